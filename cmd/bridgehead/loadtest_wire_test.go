package main

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/internal/smtpwire"
)

// scriptedServer accepts one connection and runs serve on it.
func scriptedServer(t *testing.T, serve func(r *bufio.Reader, w net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { ln.Close(); <-done })
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		serve(bufio.NewReader(c), c)
	}()
	return ln.Addr().String()
}

// readLines reads n command lines.
func readLines(r *bufio.Reader, n int) []string {
	var got []string
	for range n {
		l, err := r.ReadString('\n')
		if err != nil {
			break
		}
		got = append(got, strings.TrimRight(l, "\r\n"))
	}
	return got
}

// A server that offers PIPELINING and answers MAIL, RCPT and DATA only
// once it has them all: a client waiting for each reply would never get
// one. One recipient is refused, DATA is accepted: the body still goes.
func TestLoadSendPipelines(t *testing.T) {
	t.Parallel()
	cmds := make(chan []string, 1)
	addr := scriptedServer(t, func(r *bufio.Reader, w net.Conn) {
		_, _ = w.Write([]byte("220 test ESMTP\r\n"))
		readLines(r, 1)
		_, _ = w.Write([]byte("250-test\r\n250 PIPELINING\r\n"))
		got := readLines(r, 4) // MAIL, 2 RCPT, DATA before any reply
		cmds <- got
		_, _ = w.Write([]byte("250 2.1.0 ok\r\n550 5.1.1 no such user\r\n250 2.1.5 ok\r\n354 go on\r\n"))
		body := readLines(r, 3)
		if len(body) != 3 || body[0] != "Subject: x" || body[1] != "..dot" || body[2] != "." {
			_, _ = w.Write([]byte("554 5.6.0 bad body\r\n"))
			return
		}
		_, _ = w.Write([]byte("250 2.0.0 queued\r\n"))
	})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := smtpwire.NewClient(nc, false)
	if err := c.Greet(); err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("client"); err != nil {
		t.Fatal(err)
	}
	if !c.Has("PIPELINING") {
		t.Fatal("PIPELINING not seen")
	}
	err = loadSend(c, "a@example.test", []string{"b@example.test", "x@example.test"},
		[][]byte{[]byte("Subject: x\r\n"), []byte(".dot\r\n")}, true)
	// The refused recipient is reported; a 554 would mean the body the
	// others got was wrong.
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 1, 1}) {
		t.Fatalf("send = %v, want the refused recipient's 550 5.1.1", err)
	}
	want := []string{"MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "RCPT TO:<x@example.test>", "DATA"}
	if got := <-cmds; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("commands %q, want %q", got, want)
	}
}

// Without PIPELINING every command waits for its reply, and a refused
// MAIL is reported with its code.
func TestLoadSendWithoutPipelining(t *testing.T) {
	t.Parallel()
	addr := scriptedServer(t, func(r *bufio.Reader, w net.Conn) {
		_, _ = w.Write([]byte("220 test ESMTP\r\n"))
		readLines(r, 1)
		_, _ = w.Write([]byte("250 test\r\n"))
		readLines(r, 1)
		_, _ = w.Write([]byte("451 4.3.0 not now\r\n"))
		readLines(r, 1)
		_, _ = w.Write([]byte("221 bye\r\n"))
	})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := smtpwire.NewClient(nc, false)
	if err := c.Greet(); err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("client"); err != nil {
		t.Fatal(err)
	}
	err = loadSend(c, "a@example.test", []string{"b@example.test"}, [][]byte{[]byte("x\r\n")}, c.Has("PIPELINING"))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 0}) {
		t.Fatalf("send = %v, want 451 4.3.0", err)
	}
	if err := c.Quit(); err != nil {
		t.Errorf("quit: %v", err)
	}
}
