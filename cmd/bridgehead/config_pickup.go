package main

// PickupConfig is pickup: RFC 5322 files dropped into Dir are queued.
type PickupConfig struct {
	// Dir is the pickup directory; default state_dir/pickup.
	Dir string `yaml:"dir"`
}
