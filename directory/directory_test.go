package directory

import "testing"

func TestMaySendAs(t *testing.T) {
	t.Parallel()
	u := &User{Login: "alice", Addresses: []string{"alice@example.test"}, SendAs: []string{"sales@example.test"}}
	for addr, want := range map[string]bool{
		"alice@example.test": true,
		"Alice@Example.TEST": true,
		"sales@example.test": true,
		"bob@example.test":   false,
		"":                   false,
	} {
		if got := u.MaySendAs(addr); got != want {
			t.Errorf("MaySendAs(%q) = %v, want %v", addr, got, want)
		}
	}
}
