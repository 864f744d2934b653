package main

import (
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"bridgehead.dev/bridgehead/directory/ldapdir"
	"bridgehead.dev/bridgehead/gateway"
	"bridgehead.dev/bridgehead/gateway/admin"
	"bridgehead.dev/bridgehead/gateway/delivery"
	"bridgehead.dev/bridgehead/gateway/protolog"
	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/metrics"
)

// observability is the process's metrics, served on the admin API's
// /metrics, and the listeners' protocol logs. A nil one wires nothing.
type observability struct {
	log     *slog.Logger
	metrics *metrics.Metrics
	handler http.Handler

	mu   sync.Mutex
	logs map[string]*protolog.Logger // protocol logs by directory
}

// newObservability makes the metrics on a registry of the process's own,
// with the Go runtime and process collectors beside them.
func newObservability(log *slog.Logger) *observability {
	o := &observability{log: log, logs: map[string]*protolog.Logger{}}
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg)
	if err == nil {
		err = reg.Register(collectors.NewGoCollector())
	}
	if err == nil {
		err = reg.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if err != nil {
		// A fresh registry refuses nothing; should it, mail goes on
		// without metrics.
		log.Error("metrics off", slog.Any("error", err))
		return o
	}
	o.metrics = m
	o.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
	return o
}

// serveMetrics adds GET /metrics to the admin API (behind its token when
// it has one).
func (o *observability) serveMetrics(srv *admin.Server) {
	if o == nil || o.handler == nil {
		return
	}
	srv.HandleFunc("GET /metrics", o.handler.ServeHTTP)
}

// ldapOptions counts the LDAP directory's cache hits and misses and times
// its requests.
func (o *observability) ldapOptions(opts *ldapdir.Options) {
	if o == nil {
		return
	}
	opts.OnCacheLookup = o.metrics.DirectoryCache
	opts.OnRequest = o.metrics.LDAPRequest
}

// deliveryOptions counts and times delivery attempts per route.
func (o *observability) deliveryOptions(opts *delivery.Options) {
	if o == nil {
		return
	}
	m := o.metrics
	opts.OnAttempt = func(route, result string, took time.Duration) { m.DeliveryAttempt(route, result, took) }
}

// reportHook is bounce.Options.OnReport: it counts the reports queued
// per type.
func (o *observability) reportHook() func(action string) {
	if o == nil {
		return nil
	}
	return o.metrics.ReportSent
}

// watchQueue exports the queue's length and oldest age, read at scrape
// time.
func (o *observability) watchQueue(q *queue.Queue) {
	if o == nil {
		return
	}
	o.metrics.WatchQueue(func() metrics.QueueStats { return queueStats(q.List(), time.Now()) })
}

// queueStats sums up the queued envelopes at now.
func queueStats(envs []*queue.Envelope, now time.Time) metrics.QueueStats {
	st := metrics.QueueStats{Messages: len(envs)}
	for _, e := range envs {
		st.OldestAge = max(st.OldestAge, now.Sub(e.Received))
	}
	return st
}

// gatewayOptions gives the gateway the metrics and each listener the
// protocol log its config names; reload calls it again and gets the same
// log for the same directory.
func (o *observability) gatewayOptions(gopts *gateway.Options, cfg *Config) {
	if o == nil {
		return
	}
	gopts.Metrics = o.metrics
	for _, l := range cfg.Listeners {
		o.metrics.Listener(l.Name)
	}
	o.protocolLogs(gopts, cfg)
}

// close flushes and closes the protocol logs.
func (o *observability) close() {
	if o == nil {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for dir, l := range o.logs {
		if err := l.Close(); err != nil {
			o.log.Warn("protocol log close", slog.String("dir", dir), slog.Any("error", err))
		}
		delete(o.logs, dir)
	}
}
