package apperr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestStatusAndMessage(t *testing.T) {
	cause := errors.New("x509: certificate signed by unknown authority, realm=\"https://auth.example.com\"")
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantMsg    string
	}{
		{"bad request", BadRequest("kind %q is unknown", "cobol"), http.StatusBadRequest, `kind "cobol" is unknown`},
		{"wrapped upstream", Upstream(cause, "listing jobs"), http.StatusBadGateway, "listing jobs: it failed (the action's log has the cause)"},
		{"through fmt.Errorf", fmt.Errorf("send: %w", NotFound("no such job")), http.StatusNotFound, "no such job"},
		{"plain error is internal", errors.New("secret stuff"), http.StatusInternalServerError, "internal error; the action log has the details"},
		{"too large", TooLarge("over %d bytes", 10), http.StatusRequestEntityTooLarge, "over 10 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.wantStatus, Status(tt.err))
			assert.Equal(t, tt.wantMsg, Message(tt.err))
		})
	}
}

func TestWrapKeepsCause(t *testing.T) {
	cause := errors.New("boom")
	err := Upstream(cause, "reading")
	assert.ErrorIs(t, err, cause)
}

// TestUpstreamNeverEchoesTheOtherEnd: whatever the failure, the message
// says what the builder was doing and the kind of failure, in its own
// words; the other end's text (addresses, TLS and realm words, the API
// server's message) reaches the log only, through Cause.
func TestUpstreamNeverEchoesTheOtherEnd(t *testing.T) {
	_, dialErr := net.DialTimeout("tcp", "127.0.0.1:1", time.Second)
	require.Error(t, dialErr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	// A server that cannot be reached or did not answer is 503 (it may
	// come back); one that answered a failure, 502.
	tests := []struct {
		name   string
		cause  error
		want   string
		status int
	}{
		{"refused connection", dialErr, "it is unreachable; try again shortly", 503},
		{"timeout", fmt.Errorf("Get \"https://10.0.0.9/v2/\": %w", ctx.Err()), "it did not answer in time; try again shortly", 503},
		{"API server", apierrors.NewForbidden(schema.GroupResource{Resource: "jobs"}, "x", errors.New(`admission webhook "sneaky.example.com" denied: token abc`)), "the Kubernetes API answered Forbidden", 502},
		{"connection cut", fmt.Errorf("reading body: %w", io.ErrUnexpectedEOF), "it is unreachable; try again shortly", 503},
		{"anything else", errors.New("tls: handshake failure with 10.1.2.3"), "it failed (the action's log has the cause)", 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Upstream(tt.cause, "creating the build Job")
			assert.Equal(t, "creating the build Job: "+tt.want, Message(err))
			assert.Equal(t, tt.status, Status(err))
			for _, leak := range []string{"127.0.0.1", "10.", "sneaky", "token", "tls"} {
				assert.NotContains(t, Message(err), leak)
			}
			assert.Contains(t, Cause(err), tt.cause.Error(), "the log keeps the cause")
			assert.ErrorIs(t, err, tt.cause)
		})
	}
}
