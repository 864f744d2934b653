package ldapdir_test

import (
	"testing"

	"bridgehead.dev/bridgehead/directory/ldapdir"
	"bridgehead.dev/bridgehead/directory/ldapdir/slapdtest"
)

// BenchmarkLookupRecipient measures resolution of a recipient with a warm
// cache and with the cache off (one LDAP search each) against a loopback
// slapd.
func BenchmarkLookupRecipient(b *testing.B) {
	s := slapdtest.Start(b, slapdtest.Config{LDIF: openldapSeed()})
	for _, cached := range []bool{true, false} {
		name := "uncached"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) {
			opts := baseOptions(b, s, ldapdir.SchemaOpenLDAP)
			opts.Cache.Disabled = !cached
			d := newDir(b, opts)
			ctx := b.Context()
			if _, err := d.LookupRecipient(ctx, "bob@example.test"); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.LookupRecipient(ctx, "bob@example.test"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"-parallel", func(b *testing.B) {
			opts := baseOptions(b, s, ldapdir.SchemaOpenLDAP)
			opts.Cache.Disabled = !cached
			d := newDir(b, opts)
			ctx := b.Context()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := d.LookupRecipient(ctx, "bob@example.test"); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
