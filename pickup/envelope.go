package pickup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// ErrBadFile marks a pickup file that can never be queued as it is; the
// error's text says why.
var ErrBadFile = errors.New("bad pickup file")

// Message is a pickup file taken apart.
type Message struct {
	// From is the envelope sender; "" is the null sender.
	From string
	// Recipients are the envelope recipients, without duplicates.
	Recipients []string
	// FromXHeaders is true when the envelope came from X-Sender and
	// X-Receiver lines rather than from the message's own header.
	FromXHeaders bool
	// Header is the message's header, without the X-Sender/X-Receiver
	// lines and without Bcc and Resent-Bcc fields.
	Header textproto.Header
	// Body is the body, CRLF line ends.
	Body []byte
}

// Parse takes a pickup file's contents apart. Line ends may be LF, CRLF
// or CR; the Message has CRLF. Every error wraps ErrBadFile.
//
// The envelope comes from leading "X-Sender:" and "X-Receiver:" lines when
// there are any X-Receiver lines (IIS's convention). Otherwise the
// recipients are those of To, Cc and Bcc. The sender is X-Sender when
// given ("<>" for the null sender), else the From address, else, when
// From names several, the Sender address.
func Parse(data []byte) (*Message, error) {
	m, err := parse(toCRLF(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadFile, err)
	}
	return m, nil
}

func parse(data []byte) (*Message, error) {
	xSender, xReceivers, haveSender, rest, err := envelopeLines(data)
	if err != nil {
		return nil, err
	}
	m := &Message{}
	if haveSender {
		if m.From, err = parseSender(xSender); err != nil {
			return nil, err
		}
	}
	br := bufio.NewReader(bytes.NewReader(rest))
	hdr, err := textproto.ReadHeader(br)
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if hdr.Len() == 0 {
		return nil, errors.New("no header fields")
	}
	var body bytes.Buffer
	if _, err := br.WriteTo(&body); err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	m.Header, m.Body = hdr, body.Bytes()
	if !haveSender {
		if m.From, err = headerSender(&hdr); err != nil {
			return nil, err
		}
	}
	if len(xReceivers) > 0 {
		m.FromXHeaders = true
		for _, v := range xReceivers {
			list, err := parseList("X-Receiver", v)
			if err != nil {
				return nil, err
			}
			m.Recipients = append(m.Recipients, list...)
		}
	} else {
		for _, k := range []string{"To", "Cc", "Bcc"} {
			for _, v := range hdr.Values(k) {
				list, err := parseList(k, v)
				if err != nil {
					return nil, err
				}
				m.Recipients = append(m.Recipients, list...)
			}
		}
	}
	m.Recipients = dedupe(m.Recipients)
	if len(m.Recipients) == 0 {
		if len(xReceivers) > 0 {
			return nil, errors.New("no recipients: the X-Receiver lines name no address")
		}
		return nil, errors.New("no recipients: no X-Receiver line and no address in To, Cc or Bcc")
	}
	m.Header.Del("Bcc")
	m.Header.Del("Resent-Bcc")
	return m, nil
}

// envelopeLines splits off the leading X-Sender and X-Receiver lines
// (folded continuation lines allowed) and returns their unfolded values
// and what follows them.
func envelopeLines(data []byte) (sender string, receivers []string, haveSender bool, rest []byte, err error) {
	rest = data
	for {
		name, ok := leadingField(rest)
		if !ok {
			return sender, receivers, haveSender, rest, nil
		}
		end := fieldEnd(rest)
		value := unfold(rest[len(name)+1 : end])
		rest = rest[end:]
		switch strings.ToLower(name) {
		case "x-sender":
			if haveSender {
				return "", nil, false, nil, errors.New("more than one X-Sender line")
			}
			sender, haveSender = value, true
		case "x-receiver":
			receivers = append(receivers, value)
		}
	}
}

// leadingField returns the field name when data starts with an X-Sender or
// X-Receiver field.
func leadingField(data []byte) (string, bool) {
	line := data
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return "", false
	}
	name := strings.TrimRight(string(data[:i]), " \t")
	switch strings.ToLower(name) {
	case "x-sender", "x-receiver":
		return string(data[:i]), true
	}
	return "", false
}

// fieldEnd returns the offset just past the field starting data: its line
// and the continuation lines after it.
func fieldEnd(data []byte) int {
	end := 0
	for {
		i := bytes.Index(data[end:], []byte("\r\n"))
		if i < 0 {
			return len(data)
		}
		end += i + 2
		if end >= len(data) || (data[end] != ' ' && data[end] != '\t') {
			return end
		}
	}
}

// unfold joins a field's lines and trims the value.
func unfold(b []byte) string {
	s := strings.ReplaceAll(string(b), "\r\n", "")
	return strings.TrimSpace(s)
}

// headerSender takes the envelope sender from From (one address) or Sender.
func headerSender(h *textproto.Header) (string, error) {
	from := h.Values("From")
	if len(from) == 0 {
		return "", errors.New("no sender: no X-Sender line and no From field")
	}
	if len(from) > 1 {
		return "", errors.New("more than one From field")
	}
	list, err := parseList("From", from[0])
	if err != nil {
		return "", err
	}
	switch {
	case len(list) == 1:
		return list[0], nil
	case len(list) == 0:
		return "", errors.New("no sender: From names no address")
	}
	sender, err := parseList("Sender", h.Get("Sender"))
	if err != nil {
		return "", err
	}
	if len(sender) != 1 {
		return "", errors.New("no sender: From names several addresses and there is no Sender field with one")
	}
	return sender[0], nil
}

// dedupe drops repeated addresses (compared without case), keeping order.
func dedupe(addrs []string) []string {
	seen := make(map[string]bool, len(addrs))
	out := addrs[:0]
	for _, a := range addrs {
		k := strings.ToLower(a)
		if !seen[k] {
			seen[k] = true
			out = append(out, a)
		}
	}
	return out
}
