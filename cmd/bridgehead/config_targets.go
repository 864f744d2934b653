package main

import (
	"go.yaml.in/yaml/v3"
)

// TargetList is a route's "to": one URL, or a list of URLs tried in order
// (failover). Both YAML forms are accepted: `to: smtp://a` and
// `to: [smtp://a, smtp://b]`.
type TargetList []string

// UnmarshalYAML implements yaml.Unmarshaler.
func (l *TargetList) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*l = TargetList{n.Value}
		return nil
	case yaml.SequenceNode:
		out := make(TargetList, 0, len(n.Content))
		for _, c := range n.Content {
			if c.Kind != yaml.ScalarNode {
				return typeError(c, "want a target URL such as smtp://host:25")
			}
			out = append(out, c.Value)
		}
		*l = out
		return nil
	}
	return typeError(n, "want a target URL or a list of them")
}
