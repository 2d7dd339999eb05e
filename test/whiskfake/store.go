package whiskfake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"

	"github.com/apache/openserverless-builder/test/invoker"
)

// The entities an empty server (Empty) stores, as OpenWhisk's controller
// does: what a deployment PUTs, it GETs back and DELETEs.
const (
	packages = "packages"
	actions  = "actions"
	triggers = "triggers"
	rules    = "rules"
)

// Empty serves an OpenWhisk API with nothing deployed, for users
// ("uuid:key" → namespace): packages, actions, triggers and rules are
// created, read and deleted through the REST API, and a deployed action
// runs its own code (a Go zip, through the invoker harness) with its
// package's and its own parameters bound. With alarms, the feed action
// /whisk.system/alarms/alarm exists and records its lifecycle calls
// (Feeds), as plain OpenWhisk's alarms package does.
func Empty(users map[string]string, alarms bool) *Server {
	s := &Server{users: users, procs: map[string]*invoker.Process{}, store: map[string]map[string]any{}, alarms: alarms, putsLeft: -1}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// FailPutsAfter makes the server answer 503 to every PUT after the next n
// succeed, as an OpenWhisk controller that stops in the middle of a
// deployment; n < 0 ends it.
func (s *Server) FailPutsAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.putsLeft = n
}

// Feeds are the alarm feed's lifecycle calls so far (CREATE, DELETE), each
// with the trigger it names.
func (s *Server) Feeds() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.feeds...)
}

// Entities are the names of the deployed entities of one collection
// (packages, actions as package/name, triggers, rules) in namespace ns.
func (s *Server) Entities(ns, collection string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	prefix := ns + "/" + collection + "/"
	for k := range s.store {
		if name, ok := strings.CutPrefix(k, prefix); ok {
			out = append(out, name)
		}
	}
	return out
}

// entityPath splits /api/v1/namespaces/<ns>/<collection>/<name...> into its
// key ("<ns>/<collection>/<name>"), with "_" as the caller's namespace.
func entityPath(parts []string, caller string) (key, ns, collection, name string, ok bool) {
	if len(parts) < 6 || parts[0] != "api" || parts[2] != "namespaces" {
		return "", "", "", "", false
	}
	ns, collection, name = parts[3], parts[4], strings.Join(parts[5:], "/")
	if ns == "_" {
		ns = caller
	}
	switch collection {
	case packages, triggers, rules:
		ok = len(parts) == 6
	case actions:
		ok = len(parts) == 6 || len(parts) == 7
	}
	return ns + "/" + collection + "/" + name, ns, collection, name, ok
}

// entity serves one entity of a store-backed server; false when the path
// is none.
func (s *Server) entity(w http.ResponseWriter, r *http.Request, caller string, parts []string) bool {
	key, ns, collection, name, ok := entityPath(parts, caller)
	if !ok {
		return false
	}
	if ns == "whisk.system" && collection == actions && name == "alarms/alarm" && s.alarms {
		s.feed(w, r)
		return true
	}
	if r.Method != http.MethodGet && ns != caller {
		writeJSON(w, http.StatusForbidden, map[string]any{"error": "The supplied authentication is not authorized to access '" + ns + "'."})
		return true
	}
	switch r.Method {
	case http.MethodPut:
		s.put(w, r, key, ns, collection, name)
	case http.MethodGet:
		s.mu.Lock()
		e, found := s.store[key]
		s.mu.Unlock()
		if !found {
			notFound(w)
			return true
		}
		writeJSON(w, http.StatusOK, e)
	case http.MethodDelete:
		s.mu.Lock()
		e, found := s.store[key]
		delete(s.store, key)
		if p := s.procs[key]; p != nil {
			p.Stop()
			delete(s.procs, key)
		}
		s.mu.Unlock()
		if !found {
			notFound(w)
			return true
		}
		writeJSON(w, http.StatusOK, e)
	case http.MethodPost:
		if collection != actions {
			return false
		}
		s.invokeDeployed(w, r, caller, key)
	default:
		return false
	}
	return true
}

// put stores an entity. As OpenWhisk does, an existing one is replaced only
// with overwrite=true (else 409), an action's package must exist, and a
// rule's trigger and action too.
func (s *Server) put(w http.ResponseWriter, r *http.Request, key, ns, collection, name string) {
	var e map[string]any
	if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "The request content was malformed: " + err.Error()})
		return
	}
	pkg, short, inPackage := strings.Cut(name, "/")
	e["name"], e["namespace"] = name, ns
	if inPackage {
		e["name"], e["namespace"] = short, ns+"/"+pkg
	}
	if _, ok := e["parameters"]; !ok {
		e["parameters"] = []any{}
	}
	if _, ok := e["annotations"]; !ok {
		e["annotations"] = []any{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.putsLeft == 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"error": "The server is currently unavailable (because it is overloaded or down for maintenance)."})
		return
	}
	if s.putsLeft > 0 {
		s.putsLeft--
	}
	if _, exists := s.store[key]; exists && r.URL.Query().Get("overwrite") != "true" {
		writeJSON(w, http.StatusConflict, map[string]any{"error": "resource already exists"})
		return
	}
	if inPackage {
		if _, ok := s.store[ns+"/"+packages+"/"+pkg]; !ok {
			writeJSON(w, http.StatusNotFound, map[string]any{"error": "The requested resource does not exist: package " + pkg})
			return
		}
	}
	if collection == rules {
		for _, ref := range []struct{ field, coll string }{{"trigger", triggers}, {"action", actions}} {
			full, _ := e[ref.field].(string)
			if _, ok := s.store[ns+"/"+ref.coll+"/"+strings.TrimPrefix(strings.TrimPrefix(full, "/"+ns+"/"), "/_/")]; !ok {
				writeJSON(w, http.StatusBadRequest, map[string]any{"error": fmt.Sprintf("%s %s does not exist", ref.field, full)})
				return
			}
		}
	}
	s.store[key] = e
	// A new version of an action runs in a new process.
	if p := s.procs[key]; p != nil {
		p.Stop()
		delete(s.procs, key)
	}
	writeJSON(w, http.StatusOK, e)
}

// feed is the alarm feed: it records the lifecycle call.
func (s *Server) feed(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{"name": "alarm", "namespace": "whisk.system/alarms", "annotations": []any{map[string]any{"key": "feed", "value": true}}})
	case http.MethodPost:
		var p map[string]any
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": err.Error()})
			return
		}
		s.mu.Lock()
		s.feeds = append(s.feeds, p)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{})
	default:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]any{"error": "method not allowed"})
	}
}

// deployed is a deployed action's process, started from its code once and
// kept warm until the action is replaced or deleted, with its package's
// parameters and its own bound.
func (s *Server) deployed(key string) (*invoker.Process, map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.store[key]
	if !ok {
		return nil, nil, fmt.Errorf("the requested resource does not exist: %s", key)
	}
	if p, ok := s.procs[key]; ok && !p.Exited() {
		return p, e, nil
	}
	exec, _ := e["exec"].(map[string]any)
	code, _ := exec["code"].(string)
	data, err := base64.StdEncoding.DecodeString(code)
	if err != nil || code == "" {
		return nil, nil, fmt.Errorf("action %s has no binary code", key)
	}
	ns, rest, _ := strings.Cut(key, "/"+actions+"/")
	bound := map[string]any{}
	if pkg, _, inPackage := strings.Cut(rest, "/"); inPackage {
		pe := s.store[ns+"/"+packages+"/"+pkg]
		bound = invoker.Merge(bound, keyValues(pe["parameters"]))
	}
	bound = invoker.Merge(bound, keyValues(e["parameters"]))
	sum := sha256.Sum256(data)
	dir, err := os.MkdirTemp("", "whiskfake-"+hex.EncodeToString(sum[:4])+"-")
	if err != nil {
		return nil, nil, err
	}
	s.dirs = append(s.dirs, dir)
	zip := dir + ".zip"
	if err := os.WriteFile(zip, data, 0o600); err != nil {
		return nil, nil, err
	}
	s.dirs = append(s.dirs, zip)
	p, err := invoker.Start(zip, invoker.Options{Dir: dir, ExecutionEnv: invoker.DefaultExecutionEnv, Bound: bound})
	if err != nil {
		return nil, nil, err
	}
	s.procs[key] = p
	return p, e, nil
}

// invokeDeployed is a blocking invocation of a deployed action.
func (s *Server) invokeDeployed(w http.ResponseWriter, r *http.Request, caller, key string) {
	proc, _, err := s.deployed(key)
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"error": err.Error()})
		return
	}
	action := key[strings.LastIndex(key, "/")+1:]
	if res, ok := s.runWith(w, r, proc, action, func(p map[string]any) invoker.Activation { return invoker.Plain(action, caller, p) }); ok {
		answerPlain(w, res)
	}
}

// webDeployed is a deployed web action with require-whisk-auth.
func (s *Server) webDeployed(w http.ResponseWriter, r *http.Request, caller, ns, pkg, action string) {
	key := ns + "/" + actions + "/" + pkg + "/" + action
	proc, e, err := s.deployed(key)
	if err != nil || keyValues(e["annotations"])["web-export"] != true {
		notFound(w)
		return
	}
	if res, ok := s.runWith(w, r, proc, action, func(p map[string]any) invoker.Activation { return invoker.Web(action, caller, r.Method, p) }); ok {
		answerWeb(w, res)
	}
}

// keyValues turns OpenWhisk's [{key, value}] into a map.
func keyValues(v any) map[string]any {
	out := map[string]any{}
	list, _ := v.([]any)
	for _, kv := range list {
		m, _ := kv.(map[string]any)
		if k, ok := m["key"].(string); ok {
			out[k] = m["value"]
		}
	}
	return out
}
