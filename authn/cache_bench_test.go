package authn_test

import (
	"context"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
)

// bcryptDir checks one login against a bcrypt hash, as the static
// directory does.
type bcryptDir struct{ hash []byte }

func (d bcryptDir) Authenticate(_ context.Context, login, password string) (*directory.User, error) {
	if login != "alice" || bcrypt.CompareHashAndPassword(d.hash, []byte(password)) != nil {
		return nil, directory.ErrInvalidCredentials
	}
	return &directory.User{Login: "alice", Addresses: []string{"alice@example.test"}}, nil
}

// BenchmarkCacheAuthenticate compares a password check answered by the
// auth cache with one that reaches a bcrypt hash of the default cost (what
// every AUTH would cost without the cache).
func BenchmarkCacheAuthenticate(b *testing.B) {
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.DefaultCost)
	if err != nil {
		b.Fatal(err)
	}
	dir := bcryptDir{hash: hash}
	ctx := context.Background()
	b.Run("hit", func(b *testing.B) {
		c, err := authn.NewCache(dir, authn.CacheOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Authenticate(ctx, "alice", "alice-pw"); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.Authenticate(ctx, "alice", "alice-pw"); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("bcrypt", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := dir.Authenticate(ctx, "alice", "alice-pw"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
