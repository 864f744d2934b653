package main

// ProtocolLogConfig is a listener's protocol_log.
type ProtocolLogConfig struct {
	// Dir is where the daily W3C log files go; "" = no protocol log.
	Dir string `yaml:"dir"`
}
