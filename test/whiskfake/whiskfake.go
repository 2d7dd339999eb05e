// Package whiskfake is a small OpenWhisk API server for tests: the paths the
// builder CLI uses — blocking action invocation with result, and web
// actions — backed by the real zips run through the invoker harness, with
// the package's parameters bound as the manifest binds them.
package whiskfake

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/apache/openserverless-builder/test/invoker"
)

// zipOf is the zip that serves each action, as manifest.yaml deploys them.
var zipOf = map[string]string{
	"send": "send", "ensure": "send", "capabilities": "send", "logs": "logs", "builds": "logs", "cancel": "logs", "cleanjobs": "cleanjobs", "updatetoml": "updatetoml",
	"list-catalogs": "registry", "list-images": "registry", "get-image": "registry", "delete-image": "registry",
}

// Server is the fake API.
type Server struct {
	URL   string
	zips  string
	bound map[string]any
	users map[string]string // "uuid:key" → namespace

	mu    sync.Mutex
	procs map[string]*invoker.Process
	calls []Call
	dirs  []string
	srv   *httptest.Server

	// Empty's: the deployed entities by "<ns>/<collection>/<name>", and
	// the alarm feed.
	store    map[string]map[string]any
	alarms   bool
	feeds    []map[string]any
	putsLeft int // FailPutsAfter's; < 0: no failure
}

// Call is one request the fake served, for tests to check how a client
// called it.
type Call struct {
	Action string
	Web    bool           // the web endpoint, else a plain invocation
	Params map[string]any // the request's parameters
}

// Calls are the requests served so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// New serves package builder of namespace nuvolaris from the zips in
// zipDir, deployed with bound parameters (every other package parameter
// bound empty, as the manifest does), for users ("uuid:key" → namespace).
func New(zipDir string, bound map[string]any, users map[string]string) *Server {
	s := &Server{zips: zipDir, bound: invoker.Deployment(bound), users: users, procs: map[string]*invoker.Process{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops the server and every action process it started.
func (s *Server) Close() {
	s.srv.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		p.Stop()
	}
	for _, d := range s.dirs {
		_ = os.RemoveAll(d)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	ns, known := s.users[u+":"+p]
	if !ok || !known {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "The supplied authentication is invalid"})
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if s.store != nil {
		s.serveStore(w, r, ns, parts)
		return
	}
	switch {
	// /api/v1/namespaces/<ns>/actions/builder/<action>
	case len(parts) == 7 && parts[2] == "namespaces" && parts[4] == "actions" && parts[5] == "builder" && r.Method == http.MethodPost:
		s.invoke(w, r, ns, parts[6])
	// /api/v1/web/nuvolaris/builder/<action>
	case len(parts) == 6 && parts[2] == "web" && parts[3] == "nuvolaris" && parts[4] == "builder":
		s.web(w, r, ns, strings.TrimSuffix(parts[5], ".json"))
	default:
		notFound(w)
	}
}

// params are the request's parameters; the process merges the bound ones.
func (s *Server) params(r *http.Request) (map[string]any, error) {
	p := map[string]any{}
	for k, v := range r.URL.Query() {
		if k != "blocking" && k != "result" {
			p[k] = v[0]
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, fmt.Errorf("the body is not a JSON object")
		}
		p = invoker.Merge(p, m)
	}
	return p, nil
}

// invoke is a blocking invocation with result: the activation runs in the
// caller's namespace; an action error is a 502 with the result.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request, ns, action string) {
	if res, ok := s.run(w, r, action, func(p map[string]any) invoker.Activation { return invoker.Plain(action, ns, p) }); ok {
		answerPlain(w, res)
	}
}

// answerPlain writes an invocation's result; an action error is a 502.
func answerPlain(w http.ResponseWriter, res map[string]any) {
	if _, failed := res["error"]; failed {
		writeJSON(w, http.StatusBadGateway, res)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// web is a web action with require-whisk-auth: the caller is __ow_user.
func (s *Server) web(w http.ResponseWriter, r *http.Request, ns, action string) {
	if res, ok := s.run(w, r, action, func(p map[string]any) invoker.Activation { return invoker.Web(action, ns, r.Method, p) }); ok {
		answerWeb(w, res)
	}
}

// answerWeb writes a web action's response: its status and body.
func answerWeb(w http.ResponseWriter, res map[string]any) {
	code, body, err := invoker.Response(res)
	if err != nil {
		writeJSON(w, http.StatusBadGateway, map[string]any{"error": err.Error()})
		return
	}
	writeJSON(w, code, body)
}

// run runs the activation made from the request's parameters; on failure it
// has answered already.
func (s *Server) run(w http.ResponseWriter, r *http.Request, action string, activation func(map[string]any) invoker.Activation) (map[string]any, bool) {
	proc, err := s.process(action)
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": err.Error()})
		return nil, false
	}
	return s.runWith(w, r, proc, action, activation)
}

// serveStore serves a store-backed server (Empty): entities, invocations
// of deployed actions and their web endpoints.
func (s *Server) serveStore(w http.ResponseWriter, r *http.Request, caller string, parts []string) {
	// /api/v1/web/<ns>/<package>/<action>
	if len(parts) == 6 && parts[0] == "api" && parts[2] == "web" {
		s.webDeployed(w, r, caller, parts[3], parts[4], strings.TrimSuffix(parts[5], ".json"))
		return
	}
	if !s.entity(w, r, caller, parts) {
		notFound(w)
	}
}

// runWith runs the activation made from the request's parameters on proc.
func (s *Server) runWith(w http.ResponseWriter, r *http.Request, proc *invoker.Process, action string, activation func(map[string]any) invoker.Activation) (map[string]any, bool) {
	p, err := s.params(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return nil, false
	}
	a := activation(p)
	_, isWeb := a.Value["__ow_method"]
	s.mu.Lock()
	s.calls = append(s.calls, Call{Action: action, Web: isWeb, Params: p})
	s.mu.Unlock()
	res, err := proc.RunValue(a)
	if errors.Is(err, invoker.ErrFinal) {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
		return nil, false
	}
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]any{"error": err.Error()})
		return nil, false
	}
	return res, true
}

// process starts an action's zip once and keeps it warm.
func (s *Server) process(action string) (*invoker.Process, error) {
	zip, ok := zipOf[action]
	if !ok {
		return nil, fmt.Errorf("no action builder/%s", action)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.procs[action]; ok && !p.Exited() {
		return p, nil
	}
	dir, err := os.MkdirTemp("", "whiskfake-"+zip+"-")
	if err != nil {
		return nil, err
	}
	s.dirs = append(s.dirs, dir)
	// Each action process is deployed with its own bound operation, so
	// the four registry actions are four processes of one zip, and logs,
	// builds and cancel (and send, ensure and capabilities) three of
	// another.
	bound := invoker.Merge(s.bound)
	if zip == "registry" || zip == "logs" || zip == "send" {
		bound["operation"] = action
	}
	p, err := invoker.Start(filepath.Join(s.zips, zip+".zip"), invoker.Options{Dir: dir, ExecutionEnv: invoker.DefaultExecutionEnv, Bound: bound})
	if err != nil {
		return nil, err
	}
	s.procs[action] = p
	return p, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// notFound is OpenWhisk's 404.
func notFound(w http.ResponseWriter) {
	writeJSON(w, http.StatusNotFound, map[string]any{"error": "The requested resource does not exist."})
}
