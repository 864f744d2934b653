package delivery

import (
	"bufio"
	"bytes"
	"net"
	"strings"
	"sync"
	"testing"
)

// rawServer is a scripted SMTP/LMTP server on loopback that keeps every
// command line of every connection, for tests of what goes on the wire.
// When it offers PIPELINING it holds its replies to MAIL and RCPT until
// DATA (or another command) arrives, as RFC 2920 allows: a client that
// waited for them would stall. Without PIPELINING it notes every command
// that arrived before the reply to the previous one.
type rawServer struct {
	addr string
	cfg  rawConfig

	mu         sync.Mutex
	conns      [][]string // command lines per connection
	bodies     [][]byte   // messages received, unstuffed
	violations []string
	open       []net.Conn
}

type rawConfig struct {
	lmtp       bool
	pipelining bool
	mailReply  string            // reply to MAIL; "" for 250
	rcptReply  map[string]string // reply to RCPT by address; missing for 250
	dataReply  map[string]string // LMTP: reply after the data by recipient; missing for 250
	dropAfter  int               // close the connection after this many messages (0: never)
	dropWith   string            // a line sent before that close, e.g. a 421
	// flushIdle sends held replies whenever no more input is waiting, as
	// RFC 2920 requires of a real server, instead of holding them until
	// DATA.
	flushIdle bool
}

func startRawServer(t *testing.T, cfg rawConfig) *rawServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{addr: l.Addr().String(), cfg: cfg}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.open = append(s.open, c)
			s.conns = append(s.conns, nil)
			n := len(s.conns) - 1
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				s.serve(c, n)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		s.mu.Lock()
		for _, c := range s.open {
			c.Close()
		}
		s.mu.Unlock()
		wg.Wait()
	})
	return s
}

func (s *rawServer) serve(c net.Conn, n int) {
	br := bufio.NewReader(c)
	var out bytes.Buffer
	reply := func(line string) { out.WriteString(line + "\r\n") }
	flush := func() bool {
		_, err := c.Write(out.Bytes())
		out.Reset()
		return err == nil
	}
	reply("220 raw.test ESMTP")
	flush()
	var rcpts []string
	mailOK, msgs := false, 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb, _, _ := strings.Cut(strings.ToUpper(line), " ")
		verb, _, _ = strings.Cut(verb, ":")
		s.mu.Lock()
		s.conns[n] = append(s.conns[n], line)
		if br.Buffered() > 0 && (!s.cfg.pipelining || verb == "DATA") {
			s.violations = append(s.violations, "more sent before the reply to "+line)
		}
		s.mu.Unlock()
		hold := false
		switch verb {
		case "EHLO", "LHLO":
			reply("250-raw.test")
			if s.cfg.pipelining {
				reply("250-PIPELINING")
			}
			reply("250-ENHANCEDSTATUSCODES")
			reply("250 8BITMIME")
		case "MAIL":
			hold = s.cfg.pipelining
			if s.cfg.mailReply != "" {
				reply(s.cfg.mailReply)
				break
			}
			mailOK = true
			reply("250 2.1.0 Ok")
		case "RCPT":
			hold = s.cfg.pipelining
			addr := line[strings.Index(line, "<")+1 : strings.Index(line, ">")]
			switch r := s.cfg.rcptReply[addr]; {
			case !mailOK:
				reply("503 5.5.1 MAIL first")
			case r != "":
				reply(r)
			default:
				rcpts = append(rcpts, addr)
				reply("250 2.1.5 Ok")
			}
		case "DATA":
			if len(rcpts) == 0 {
				reply("554 5.5.1 No valid recipients")
				break
			}
			reply("354 Go ahead")
			if !flush() {
				return
			}
			body, ok := readDotted(br)
			if !ok {
				return
			}
			s.mu.Lock()
			s.bodies = append(s.bodies, body)
			s.mu.Unlock()
			if s.cfg.lmtp {
				for _, r := range rcpts {
					if d := s.cfg.dataReply[r]; d != "" {
						reply(d)
					} else {
						reply("250 2.0.0 <" + r + "> delivered")
					}
				}
			} else {
				reply("250 2.0.0 Ok: queued")
			}
			rcpts, mailOK = nil, false
			msgs++
			if s.cfg.dropAfter > 0 && msgs == s.cfg.dropAfter {
				flush()
				if s.cfg.dropWith != "" {
					reply(s.cfg.dropWith)
					flush()
				}
				return
			}
		case "RSET":
			rcpts, mailOK = nil, false
			reply("250 2.0.0 Ok")
		case "QUIT":
			reply("221 2.0.0 Bye")
			flush()
			return
		default:
			reply("502 5.5.2 Unknown command")
		}
		if hold && s.cfg.flushIdle && br.Buffered() == 0 {
			hold = false
		}
		if !hold && !flush() {
			return
		}
	}
}

// readDotted reads a DATA body up to the lone dot and undoes the stuffing.
func readDotted(br *bufio.Reader) ([]byte, bool) {
	var body []byte
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return nil, false
		}
		if string(line) == ".\r\n" {
			return body, true
		}
		body = append(body, bytes.TrimPrefix(line, []byte("."))...)
	}
}

// commands returns the command lines of connection n, verbs only.
func (s *rawServer) commands(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, l := range s.conns[n] {
		v, _, _ := strings.Cut(l, " ")
		out = append(out, v)
	}
	return out
}

func (s *rawServer) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *rawServer) received() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.bodies...)
}

func (s *rawServer) checkOrder(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.violations {
		t.Error(v)
	}
}
