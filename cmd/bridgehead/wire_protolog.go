package main

import (
	"log/slog"

	"bridgehead.dev/bridgehead/gateway"
	"bridgehead.dev/bridgehead/gateway/protolog"
)

// protocolLogs opens (or reuses, at reload) the protocol log of every
// listener whose config has protocol_log.dir and sets it in its options.
// A log that cannot be opened is logged and left out: mail does not wait
// for its log.
func (o *observability) protocolLogs(gopts *gateway.Options, cfg *Config) {
	byName := map[string]ProtocolLogConfig{}
	for _, l := range cfg.Listeners {
		byName[l.Name] = l.ProtocolLog
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for i := range gopts.Listeners {
		lo := &gopts.Listeners[i]
		pc := byName[lo.Name]
		if pc.Dir == "" {
			continue
		}
		if l, ok := o.logs[pc.Dir]; ok {
			lo.ProtocolLog = l
			continue
		}
		l, err := protolog.Open(protolog.Options{
			Dir:      pc.Dir,
			Site:     lo.Name,
			Computer: cfg.Hostname,
			Retain:   pc.retain(),
			Logger:   o.log,
		})
		if err != nil {
			o.log.Error("protocol log not opened", slog.String("listener", lo.Name), slog.Any("error", err))
			continue
		}
		o.logs[pc.Dir] = l
		lo.ProtocolLog = l
	}
}
