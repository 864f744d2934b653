package bounce

import (
	"strings"

	"bridgehead.dev/bridgehead/gateway/queue"
	"bridgehead.dev/bridgehead/ndr"
)

// NOTIFY keywords (RFC 3461 section 4.1).
const (
	notifyNever   = "NEVER"
	notifyFailure = "FAILURE"
	notifyDelay   = "DELAY"
	notifySuccess = "SUCCESS"
)

// wants reports whether a recipient with the NOTIFY keywords notify asks
// for a report of the given kind: without NOTIFY failure and delay reports
// are sent (RFC 3461 section 4.1 leaves the default to us; this is the
// common "FAILURE,DELAY"), NEVER suppresses every report.
func wants(notify []string, kind string) bool {
	if len(notify) == 0 {
		return kind == notifyFailure || kind == notifyDelay
	}
	for _, n := range notify {
		if strings.EqualFold(n, notifyNever) {
			return false
		}
	}
	for _, n := range notify {
		if strings.EqualFold(n, kind) {
			return true
		}
	}
	return false
}

// expiredPrefix starts the LastReply the queue gives an expired recipient.
const expiredPrefix = "expired:"

// lastReplyMarker introduces the back end's last reply in an expired
// recipient's LastReply.
const lastReplyMarker = "; last reply: "

// failedStatus is the report line of a failed recipient. An expired one is
// reported as 5.4.7 (delivery time expired, RFC 3463) with the back end's
// last reply as diagnostic when there was one.
func (r *Reporter) failedStatus(rc *queue.Recipient) ndr.RecipientStatus {
	s := ndr.RecipientStatus{
		FinalRecipient:    rc.Address,
		OriginalRecipient: rc.ORCPT,
		Action:            ndr.ActionFailed,
		RemoteMTA:         rc.RemoteMTA,
		DiagnosticCode:    rc.LastReply,
		LastAttempt:       rc.LastAttempt,
	}
	if strings.HasPrefix(rc.LastReply, expiredPrefix) {
		s.Status = "5.4.7"
		if _, last, ok := strings.Cut(rc.LastReply, lastReplyMarker); ok && last != "" {
			s.DiagnosticCode = last
		}
	}
	return s
}

// successStatus is the report line of a recipient delivered into the
// mailbox store ("delivered") or to a back end without DSN ("relayed").
func (r *Reporter) successStatus(rc *queue.Recipient) ndr.RecipientStatus {
	action := ndr.ActionRelayed
	if rc.SuccessAction == string(ndr.ActionDelivered) {
		action = ndr.ActionDelivered
	}
	return ndr.RecipientStatus{
		FinalRecipient:    rc.Address,
		OriginalRecipient: rc.ORCPT,
		Action:            action,
		Status:            "2.0.0",
		RemoteMTA:         rc.RemoteMTA,
		DiagnosticCode:    rc.LastReply,
		LastAttempt:       rc.LastAttempt,
	}
}

// delayedStatus is the report line of a recipient still being tried.
func (r *Reporter) delayedStatus(env *queue.Envelope, rc *queue.Recipient) ndr.RecipientStatus {
	return ndr.RecipientStatus{
		FinalRecipient:    rc.Address,
		OriginalRecipient: rc.ORCPT,
		Action:            ndr.ActionDelayed,
		RemoteMTA:         rc.RemoteMTA,
		DiagnosticCode:    rc.LastReply,
		LastAttempt:       rc.LastAttempt,
		WillRetryUntil:    env.Received.Add(r.opts.Expire),
	}
}
