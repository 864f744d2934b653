package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ConfigError is one thing wrong in a config file, printed as FILE:LINE: what.
type ConfigError struct {
	// File is the config file's name.
	File string
	// Line is the 1-based line of the offending key (0 when unknown).
	Line int
	// Msg says what is wrong.
	Msg string
}

// Error implements error.
func (e *ConfigError) Error() string {
	if e.Line <= 0 {
		return e.File + ": " + e.Msg
	}
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}

// lineOf returns the line of the node at path below root: a string step is
// a mapping key (the key's own line is returned for the last step), an int
// step a sequence index. When the path stops early it returns the line of
// the deepest node found, so a missing key points at its parent.
func lineOf(root *yaml.Node, path ...any) int {
	n := root
	if n == nil {
		return 0
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, step := range path {
		next, keyLine := child(n, step)
		if next == nil {
			if keyLine > 0 {
				return keyLine
			}
			return line
		}
		n = next
		line = keyLine
	}
	return line
}

// child returns the node under n for one path step and the line to report
// for it (the key's line for a mapping entry).
func child(n *yaml.Node, step any) (*yaml.Node, int) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch s := step.(type) {
	case string:
		if n.Kind != yaml.MappingNode {
			return nil, 0
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == s {
				return n.Content[i+1], n.Content[i].Line
			}
		}
	case int:
		if n.Kind == yaml.SequenceNode && s >= 0 && s < len(n.Content) {
			return n.Content[s], n.Content[s].Line
		}
	}
	return nil, 0
}

// yamlLine matches the "line N: what" of the yaml package's messages.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlNotFound matches the decoder's unknown-key message.
var yamlNotFound = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// yamlErrors turns an error of the yaml package into ConfigErrors of file.
func yamlErrors(file string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	errs := make([]error, 0, len(msgs))
	for _, m := range msgs {
		ce := &ConfigError{File: file, Msg: strings.TrimPrefix(m, "yaml: ")}
		if g := yamlLine.FindStringSubmatch(m); g != nil {
			ce.Line, _ = strconv.Atoi(g[1])
			ce.Msg = g[2]
			if parserProblem(ce.Msg) {
				ce.Line++
			}
		}
		if g := yamlNotFound.FindStringSubmatch(ce.Msg); g != nil {
			ce.Msg = fmt.Sprintf("unknown key %q", g[1])
		}
		ce.Msg = strings.Replace(ce.Msg, "cannot unmarshal ", "cannot read ", 1)
		errs = append(errs, ce)
	}
	return errors.Join(errs...)
}

// parserProblem reports whether msg is one of the yaml parser's (not
// scanner's) problems, whose line the yaml package gives counting from 0.
func parserProblem(msg string) bool {
	switch msg {
	case "did not find expected ',' or ']'", "did not find expected ',' or '}'",
		"did not find expected <document start>", "did not find expected '-' indicator",
		"did not find expected key", "did not find expected node content",
		"found duplicate %YAML directive", "found duplicate %TAG directive",
		"found incompatible YAML document", "found undefined tag handle",
		"did not find expected <stream-start>":
		return true
	}
	return false
}
