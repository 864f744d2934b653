package gateway

import (
	"errors"
	"log/slog"

	"github.com/emersion/go-smtp"

	"bridgehead.dev/bridgehead/authn"
	"bridgehead.dev/bridgehead/directory"
)

// Replies the sessions give. go-smtp recognises *smtp.SMTPError only by
// type assertion, so these are never wrapped on their way out.
var (
	replyAuthRequired         = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	replyEncryptionRequired   = &smtp.SMTPError{Code: 538, EnhancedCode: smtp.EnhancedCode{5, 7, 11}, Message: "Encryption required for requested authentication mechanism"}
	replyAuthUnsupported      = &smtp.SMTPError{Code: 502, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "AUTH not available on this port"}
	replyAlreadyAuthenticated = &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "Already authenticated"}
	replyNoSuchUser           = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "Recipient address rejected: no such user here"}
	replyRelayDenied          = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied"}
	replyBadAddress           = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad recipient address syntax"}
	replyBadSender            = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: "Bad sender address syntax"}
	replyTooManyRecipients    = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "Too many recipients"}
	replyTooBig               = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message exceeds the size limit"}
	replyDirectoryDown        = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 3}, Message: "Directory lookup failed, try again later"}
	replyBareLF               = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message refused: bare CR or LF found, lines must end with CRLF"}
	replyLineTooLong          = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message refused: line too long"}
	replyLoop                 = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 4, 6}, Message: "Too many hops, mail loop suspected"}
	replyNoFrom               = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message refused: no valid From header"}
	replyBadHeader            = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "Message refused: malformed header"}
	replyLocalError           = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Local error in processing, try again later"}
	replyTimeout              = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Timeout receiving the message"}
)

// reply turns any error a session method meets into the SMTP reply the
// client sees. Internal detail is logged, never shown.
func (s *session) reply(err error) error {
	if err == nil {
		return nil
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se
	}
	var ae *authn.Error
	if errors.As(err, &ae) {
		code, enh, text := ae.Reply()
		return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode(enh), Message: text}
	}
	if errors.Is(err, directory.ErrUnavailable) {
		s.log.Warn("directory unavailable", slog.String("error", err.Error()))
		return replyDirectoryDown
	}
	s.log.Error("internal error", slog.String("error", err.Error()))
	return replyLocalError
}
