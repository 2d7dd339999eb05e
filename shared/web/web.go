// Package web reads the fields OpenWhisk adds to a web action's parameters and
// builds the HTTP response a web action returns.
package web

import (
	"net/http"
	"strings"

	"github.com/apache/openserverless-builder/shared/params"
)

// Request is the HTTP side of a web activation.
type Request struct {
	Method  string // upper case
	Path    string
	User    string // __ow_user: set by OpenWhisk when require-whisk-auth passed
	Headers map[string]string
	Body    string
	Query   string
}

// FromParams returns the web request of p, and false when the activation is a
// plain invocation (no __ow_method).
func FromParams(p params.Params) (*Request, bool) {
	method, _ := p["__ow_method"].(string)
	if method == "" {
		return nil, false
	}
	r := &Request{Method: strings.ToUpper(method)}
	r.Path, _ = p["__ow_path"].(string)
	r.User, _ = p["__ow_user"].(string)
	r.Body, _ = p["__ow_body"].(string)
	r.Query, _ = p["__ow_query"].(string)
	if h, ok := p["__ow_headers"].(map[string]any); ok {
		r.Headers = make(map[string]string, len(h))
		for k, v := range h {
			if s, ok := v.(string); ok {
				r.Headers[strings.ToLower(k)] = s
			}
		}
	}
	return r, true
}

// Response is what a web action returns for OpenWhisk to send as HTTP.
type Response struct {
	StatusCode int               `json:"statusCode"`
	Headers    map[string]string `json:"headers"`
	Body       any               `json:"body"`
}

// JSON is a response with a JSON body.
func JSON(status int, body any) Response {
	return Response{
		StatusCode: status,
		Headers: map[string]string{
			"Content-Type":  "application/json",
			"Cache-Control": "no-store",
		},
		Body: body,
	}
}

// MethodAllowed reports whether method is one of allowed; an empty list
// allows every method.
func MethodAllowed(method string, allowed []string) bool {
	if len(allowed) == 0 {
		return true
	}
	for _, m := range allowed {
		if strings.EqualFold(m, method) {
			return true
		}
	}
	return false
}

// Read are the methods of actions that only read: GET and POST.
func Read() []string { return []string{http.MethodGet, http.MethodPost} }

// Write are the methods of actions that change something: POST.
func Write() []string { return []string{http.MethodPost} }

// Delete are the methods of actions that delete: DELETE and POST.
func Delete() []string { return []string{http.MethodDelete, http.MethodPost} }
