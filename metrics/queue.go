package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// QueueStats describe the queue at one moment.
type QueueStats struct {
	// Messages is the number of messages in the queue.
	Messages int
	// OldestAge is the age of the oldest message; 0 when empty.
	OldestAge time.Duration
}

// WatchQueue sets the function asked for the queue's state at every
// scrape (bridgehead_queue_messages, bridgehead_queue_oldest_age_seconds).
// Until it is called, the queue gauges are not exported.
func (m *Metrics) WatchQueue(stats func() QueueStats) {
	if m == nil {
		return
	}
	m.queueStats.Store(&stats)
}

var (
	queueMessagesDesc = prometheus.NewDesc(namespace+"_queue_messages",
		"Messages in the queue.", nil, nil)
	queueOldestDesc = prometheus.NewDesc(namespace+"_queue_oldest_age_seconds",
		"Age of the oldest message in the queue; 0 when it is empty.", nil, nil)
)

// queueCollector asks for the queue's state at scrape time rather than
// following every change.
type queueCollector struct{ m *Metrics }

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueMessagesDesc
	ch <- queueOldestDesc
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	f := c.m.queueStats.Load()
	if f == nil {
		return
	}
	s := (*f)()
	ch <- prometheus.MustNewConstMetric(queueMessagesDesc, prometheus.GaugeValue, float64(s.Messages))
	ch <- prometheus.MustNewConstMetric(queueOldestDesc, prometheus.GaugeValue, s.OldestAge.Seconds())
}
