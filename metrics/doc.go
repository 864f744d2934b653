// Package metrics holds bridgehead's Prometheus metrics: one Metrics value
// made by New against a registry the caller owns (there is no global
// registry and no package-level state). Every method is safe on a nil
// *Metrics, so packages call them unconditionally and metrics can be off.
//
// Label values that come from clients (AUTH mechanisms, refusal reasons,
// results) are folded into small fixed sets so that no client can grow the
// number of series.
package metrics
