package main

import (
	"fmt"
	"strings"
)

// sendmailFlags are the command line of "bridgehead sendmail", read the way
// sendmail(1) and Postfix's sendmail read theirs.
type sendmailFlags struct {
	extract    bool     // -t: recipients from To, Cc, Bcc
	ignoreDots bool     // -i, -oi: a lone "." line does not end the message
	from       string   // -f, -r: envelope sender
	fromSet    bool     // -f given (possibly "" or "<>": the null sender)
	fullName   string   // -F: the full name of a From field we add
	config     string   // -config, -C: bridgehead's config file
	verbose    bool     // -v: say where the message went
	rcpts      []string // the arguments
}

// sendmailArgOpts are the single-letter options that take a value (the
// value may be glued on, as in -fuser@example.test or -oi).
const sendmailArgOpts = "BCFLNORVXbefhopr"

// sendmailFlagOpts are the options without a value.
const sendmailFlagOpts = "GIUcimnqtvx"

// parseSendmailFlags reads args. Options may be grouped (-ti) and mixed
// with recipients; "--" ends them. Harmless options of other sendmails
// (-oi's siblings -odi, -oem, -bm, -em, -N, -R, -V, -X, -L, -h, -v, ...)
// are accepted and ignored, as Postfix does, so cron and scripts work.
func parseSendmailFlags(args []string) (*sendmailFlags, error) {
	f := &sendmailFlags{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			f.rcpts = append(f.rcpts, args[i+1:]...)
			return f, nil
		case a == "-config" || a == "--config":
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s needs a file name", a)
			}
			i++
			f.config = args[i]
			continue
		case strings.HasPrefix(a, "-config=") || strings.HasPrefix(a, "--config="):
			_, f.config, _ = strings.Cut(a, "=")
			continue
		case len(a) < 2 || a[0] != '-':
			f.rcpts = append(f.rcpts, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			switch {
			case strings.IndexByte(sendmailFlagOpts, c) >= 0:
				switch c {
				case 't':
					f.extract = true
				case 'i':
					f.ignoreDots = true
				case 'v':
					f.verbose = true
				case 'q':
					return nil, fmt.Errorf("-q is not supported: see bridgehead queue")
				}
			case strings.IndexByte(sendmailArgOpts, c) >= 0:
				val := a[j+1:]
				if val == "" {
					if i+1 >= len(args) {
						return nil, fmt.Errorf("option -%c needs a value", c)
					}
					i++
					val = args[i]
				}
				if err := f.option(c, val); err != nil {
					return nil, err
				}
				j = len(a)
			default:
				return nil, fmt.Errorf("unknown option -%c", c)
			}
		}
	}
	return f, nil
}

// option applies one option with a value.
func (f *sendmailFlags) option(c byte, val string) error {
	switch c {
	case 'f', 'r':
		f.from, f.fromSet = val, true
	case 'F':
		f.fullName = val
	case 'C':
		f.config = val
	case 'o':
		if val == "i" {
			f.ignoreDots = true
		}
	case 'b':
		if val != "m" {
			return fmt.Errorf("-b%s is not supported: only -bm (read a message and send it)", val)
		}
	}
	return nil
}
