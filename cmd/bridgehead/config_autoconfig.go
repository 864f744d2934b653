package main

// AutoconfigConfig is autoconfig: the HTTP(S) listener that tells mail
// clients how to connect; off while Address is empty.
type AutoconfigConfig struct {
	// Address is host:port to serve on; "" = off.
	Address string `yaml:"address"`
}
