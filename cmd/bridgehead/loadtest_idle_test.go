package main

import (
	"os"
	"testing"
)

func TestProcessRSS(t *testing.T) {
	t.Parallel()
	rss, err := processRSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss <= 0 {
		t.Errorf("VmRSS of the test process = %d KiB", rss)
	}
	if _, err := processRSS(-1); err == nil {
		t.Error("processRSS of no process succeeded")
	}
}

func TestSourceAddr(t *testing.T) {
	t.Parallel()
	if a := sourceAddr(5, 1); a != nil {
		t.Errorf("one source: %v, want the system's choice", a)
	}
	if got := sourceAddr(9, 8).IP.String(); got != "127.0.0.2" {
		t.Errorf("sourceAddr(9, 8) = %s, want 127.0.0.2", got)
	}
}
