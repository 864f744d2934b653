package ldapdir

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"bridgehead.dev/bridgehead/directory"
	"github.com/go-ldap/ldap/v3"
)

// dialer opens connections to the first server in URLs that answers.
type dialer struct {
	opts *Options
	tls  *tls.Config // without ServerName; set per URL
}

func newDialer(opts *Options) (*dialer, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: opts.InsecureSkipVerify} //nolint:gosec // off only when configured
	if opts.CAFile != "" {
		pem, err := os.ReadFile(opts.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ldap: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ldap: ca_file %s: no PEM certificates", opts.CAFile)
		}
		cfg.RootCAs = pool
	}
	return &dialer{opts: opts, tls: cfg}, nil
}

// dial connects to the servers in order, upgrades with StartTLS when
// configured and runs bind (nil = bind as the service account, if any).
// A server that cannot be reached, does not answer in time or fails TLS is
// logged and the next one tried; when all fail the error wraps
// directory.ErrUnavailable. An LDAP result from bind (such as invalid
// credentials) ends the search and is returned as it is.
func (d *dialer) dial(ctx context.Context, bind func(*ldap.Conn) error) (*ldap.Conn, error) {
	if bind == nil {
		bind = d.serviceBind
	}
	var errs []error
	for _, u := range d.opts.URLs {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		c, err := d.dialOne(ctx, u, bind)
		if err == nil {
			return c, nil
		}
		var final *finalError
		if errors.As(err, &final) {
			return nil, final.err
		}
		d.opts.Logger.LogAttrs(ctx, levelWarn, "ldap server failed", strAttr("url", u), errAttr(err))
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
	}
	return nil, fmt.Errorf("ldap: connect: %w: %w", directory.ErrUnavailable, errors.Join(errs...))
}

// finalError carries an LDAP result that no other server would change.
type finalError struct{ err error }

func (e *finalError) Error() string { return e.err.Error() }

func (d *dialer) serviceBind(c *ldap.Conn) error {
	if d.opts.BindDN == "" {
		return nil
	}
	pw, err := readPassword(d.opts.BindPasswordFile)
	if err != nil {
		return err
	}
	if err := c.Bind(d.opts.BindDN, pw); err != nil {
		return fmt.Errorf("service bind as %s: %w", d.opts.BindDN, err)
	}
	return nil
}

func (d *dialer) dialOne(ctx context.Context, rawURL string, bind func(*ldap.Conn) error) (*ldap.Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	tc := d.tls.Clone()
	tc.ServerName = u.Hostname()
	nd := &net.Dialer{Timeout: d.opts.Timeout}
	if dl, ok := ctx.Deadline(); ok {
		nd.Deadline = dl
	}
	c, err := ldap.DialURL(rawURL, ldap.DialWithDialer(nd), ldap.DialWithTLSConfig(tc))
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	err = withConn(ctx, c, d.opts.Timeout, func() error {
		if d.opts.StartTLS && strings.EqualFold(u.Scheme, "ldap") {
			if err := c.StartTLS(tc); err != nil {
				return fmt.Errorf("starttls: %w", err)
			}
		}
		if err := bind(c); err != nil {
			var le *ldap.Error
			if errors.As(err, &le) && !isConnError(err) {
				return &finalError{err: err}
			}
			return err
		}
		return nil
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// withConn runs op on c with a request timeout of at most timeout and the
// time left before ctx's deadline, and closes c if ctx ends first, so that a
// request waiting on the server stops when the caller goes away.
func withConn(ctx context.Context, c *ldap.Conn, timeout time.Duration, op func() error) error {
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return ctx.Err()
		}
		timeout = min(timeout, left)
	}
	c.SetTimeout(timeout)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	err := op()
	if !stop() && err != nil {
		return fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return err
}

func readPassword(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("bind_password_file: %w", err)
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", fmt.Errorf("bind_password_file %s: empty", path)
	}
	return pw, nil
}

// isConnError reports whether err means the connection is unusable or the
// server did not answer in time, as opposed to an LDAP result.
func isConnError(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		switch le.ResultCode {
		case ldap.ErrorNetwork, ldap.LDAPResultTimeout, ldap.LDAPResultBusy,
			ldap.LDAPResultUnavailable, ldap.LDAPResultServerDown, ldap.LDAPResultConnectError,
			ldap.LDAPResultUnwillingToPerform:
			return true
		}
		return false
	}
	return true
}
