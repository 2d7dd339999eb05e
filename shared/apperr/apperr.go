// Package apperr holds the error type every action returns: an HTTP status and
// a message written for the user, with the cause kept for the logs.
package apperr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Error is an error a user can act on. Msg is shown to the caller; Err, the
// cause, is only for errors.Is/As and never shown unless Msg includes it.
type Error struct {
	Status int
	Msg    string
	Err    error
	// Headers go on a web response, such as Retry-After on a 429.
	Headers map[string]string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Err }

// New returns an error with the given status and formatted message.
func New(status int, format string, args ...any) *Error {
	return &Error{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// Wrap returns an error with the given status whose message is the formatted
// text followed by the cause's message.
func Wrap(status int, err error, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if err != nil {
		msg += ": " + err.Error()
	}
	return &Error{Status: status, Msg: msg, Err: err}
}

// BadRequest is 400: the input is wrong and the message says how.
func BadRequest(format string, args ...any) *Error {
	return New(http.StatusBadRequest, format, args...)
}

// Unauthorized is 401: no identity.
func Unauthorized(format string, args ...any) *Error {
	return New(http.StatusUnauthorized, format, args...)
}

// Forbidden is 403: not the caller's, or admin only.
func Forbidden(format string, args ...any) *Error {
	return New(http.StatusForbidden, format, args...)
}

// NotFound is 404.
func NotFound(format string, args ...any) *Error {
	return New(http.StatusNotFound, format, args...)
}

// MethodNotAllowed is 405.
func MethodNotAllowed(format string, args ...any) *Error {
	return New(http.StatusMethodNotAllowed, format, args...)
}

// TooLarge is 413.
func TooLarge(format string, args ...any) *Error {
	return New(http.StatusRequestEntityTooLarge, format, args...)
}

// TooMany is 429: a limit holds; the caller may try again after retry.
func TooMany(retry time.Duration, format string, args ...any) *Error {
	e := New(http.StatusTooManyRequests, format, args...)
	e.Headers = map[string]string{"Retry-After": strconv.Itoa(int(retry / time.Second))}
	return e
}

// Unavailable is 503: a server the builder needs did not answer, or could
// not be reached; the caller may try again after retry. The message says
// what was being done in the builder's words; cause stays for the log.
func Unavailable(cause error, retry time.Duration, format string, args ...any) *Error {
	e := &Error{Status: http.StatusServiceUnavailable, Msg: fmt.Sprintf(format, args...), Err: cause}
	e.Headers = map[string]string{"Retry-After": strconv.Itoa(int(retry / time.Second))}
	return e
}

// HeadersOf are the response headers err asks for, if any.
func HeadersOf(err error) map[string]string {
	var e *Error
	if errors.As(err, &e) {
		return e.Headers
	}
	return nil
}

// Upstream is 502: the registry or Kubernetes is unreachable or failing.
// The message says what was being done and what kind of failure it was
// (failure), never the other end's own text: a network error's addresses,
// a TLS or auth realm's words, an API server's message. The cause stays in
// Err, for the action's log alone.
//
// A server that cannot be reached or did not answer in time is 503 with
// Retry-After instead: it may come back (docs/contract.md, "Errors").
func Upstream(err error, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	if err == nil {
		return &Error{Status: http.StatusBadGateway, Msg: msg}
	}
	phrase, unavailable := failure(err)
	if unavailable {
		return Unavailable(err, upstreamRetry, "%s: %s; try again shortly", msg, phrase)
	}
	return &Error{Status: http.StatusBadGateway, Msg: msg + ": " + phrase, Err: err}
}

// upstreamRetry is what a 503 of a server that did not answer asks the
// caller to wait.
const upstreamRetry = 30 * time.Second

// UpstreamSaid is 502 with the message as written, where the caller has
// named the kind of failure itself; the cause stays for the log.
func UpstreamSaid(cause error, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadGateway, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// apiStatus is what Kubernetes API errors carry: a fixed reason, such as
// Forbidden or Conflict, beside the server's message.
type apiStatus interface {
	Status() metav1.Status
}

// failure names the kind of err in words of the builder's own: one phrase
// per kind of failure, and no text of the other end; unavailable when the
// other end could not be reached or did not answer in time.
func failure(err error) (phrase string, unavailable bool) {
	var status apiStatus
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		return "it did not answer in time", true
	case errors.Is(err, context.Canceled):
		return "the request was cancelled", false
	case errors.As(err, &status) && status.Status().Reason != "":
		return "the Kubernetes API answered " + string(status.Status().Reason), false
	case errors.As(err, &netErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return "it is unreachable", true
	}
	return "it failed (the action's log has the cause)", false
}

// Cause is what the log adds to err's message: its cause, when the
// message leaves it out ("" otherwise).
func Cause(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Err != nil && !strings.Contains(e.Msg, e.Err.Error()) {
		return " (cause: " + e.Err.Error() + ")"
	}
	return ""
}

// Status is the HTTP status for err: its own for an *Error, 500 otherwise.
func Status(err error) int {
	var e *Error
	if errors.As(err, &e) && e.Status != 0 {
		return e.Status
	}
	return http.StatusInternalServerError
}

// Message is what the caller sees for err. Errors that are not *Error are
// internal: the caller gets a generic text, the details go to the log only.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Msg
	}
	return "internal error; the action log has the details"
}

// Quote quotes user input for a message, cut to a readable length and on
// one line, so that no input can shape the rest of the message.
func Quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strings.ReplaceAll(strings.ReplaceAll(`"`+s+`"`, "\n", `\n`), "\r", `\r`)
}
