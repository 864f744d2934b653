package delivery

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/gateway/queue"
)

// tempResult is a temporary failure without a reply (Code 0).
func tempResult(text string) queue.Result {
	return queue.Result{Text: text}
}

// failAll answers res for every recipient, with the recipient and remote
// host filled in.
func failAll(rcpts []*queue.Recipient, host string, res queue.Result) []queue.Result {
	out := make([]queue.Result, len(rcpts))
	for i, r := range rcpts {
		out[i] = res
		out[i].Recipient = r.Address
		out[i].RemoteMTA = host
	}
	return out
}

// errResult turns an error from a step into a result: a server reply keeps
// its code (5xx permanent, others temporary), anything else is a temporary
// failure with Code 0 and op in the text.
func errResult(op string, err error) queue.Result {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return replyResult(se)
	}
	return queue.Result{Text: fmt.Sprintf("%s: %v", op, err)}
}

// replyResult maps a server's error reply onto a result.
func replyResult(se *smtp.SMTPError) queue.Result {
	text := strings.ReplaceAll(se.Message, "\n", " ")
	if se.Code < 400 || se.Code >= 600 {
		// A reply of the wrong kind where another was due: the
		// transaction did not complete, try again later.
		return queue.Result{Text: fmt.Sprintf("unexpected reply %d %s", se.Code, text)}
	}
	r := queue.Result{Code: se.Code, Text: text, Permanent: se.Code >= 500}
	if e := se.EnhancedCode; e[0] > 0 && e[1] >= 0 && e[2] >= 0 {
		r.Enhanced = fmt.Sprintf("%d.%d.%d", e[0], e[1], e[2])
	}
	return r
}

var enhancedRE = regexp.MustCompile(`^([245])\.(\d{1,3})\.(\d{1,3})$`)

// okResult is a 250 with the server's text, its enhanced code split off.
func okResult(text string) queue.Result {
	r := queue.Result{Code: 250, Text: strings.ReplaceAll(text, "\n", " ")}
	if first, rest, _ := strings.Cut(r.Text, " "); enhancedRE.MatchString(first) {
		r.Enhanced, r.Text = first, rest
	}
	return r
}

// replyString renders a result for logs: "250 2.0.0 text" or the text.
func replyString(r queue.Result) string {
	if r.Code == 0 {
		return r.Text
	}
	s := strconv.Itoa(r.Code)
	if r.Enhanced != "" {
		s += " " + r.Enhanced
	}
	if r.Text != "" {
		s += " " + r.Text
	}
	return s
}
