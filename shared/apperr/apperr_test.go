package apperr

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStatusAndMessage(t *testing.T) {
	cause := errors.New("dial tcp 127.0.0.1:1: connection refused")
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantMsg    string
	}{
		{"bad request", BadRequest("kind %q is unknown", "cobol"), http.StatusBadRequest, `kind "cobol" is unknown`},
		{"wrapped upstream", Upstream(cause, "listing jobs"), http.StatusBadGateway, "listing jobs: dial tcp 127.0.0.1:1: connection refused"},
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
