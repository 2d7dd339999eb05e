// Package action turns an action's handler into an ActionLoop handler: it
// resolves the caller, checks the web method, reads the configuration, runs
// the handler and maps its result or error to what OpenWhisk expects
// (docs/contract.md, "Identity" and "Errors").
package action

import (
	"context"
	"log"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/apache/openserverless-builder/shared/actionloop"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/web"
)

// Invocation is one activation as a handler sees it.
type Invocation struct {
	Params params.Params
	Caller identity.Caller
	Config config.Config
	Log    *log.Logger
	env    *Env
}

// Kube returns the cluster clients, built once per warm container.
func (inv *Invocation) Kube() (*kube.Clients, error) { return inv.env.kube(inv.Config) }

// Func is an action's logic. It returns the result object or an error made
// with package apperr.
type Func func(ctx context.Context, inv *Invocation) (any, error)

// Action describes one action.
type Action struct {
	Name string
	// Methods are the HTTP methods a web invocation may use; nil allows
	// every method.
	Methods []string
	Run     Func
}

// Response is a result whose HTTP status, for a web invocation, is not
// 200 (ensure's 202 Accepted for a build under way); a plain invocation
// gets Body.
type Response struct {
	Status int
	Body   any
}

// Env holds what outlives an activation in a warm container: the Kubernetes
// clients, rebuilt only when the kubeconfig changes. The zero value is ready.
type Env struct {
	// NewKube builds clients; nil uses kube.DefaultLoader and kube.NewClients.
	NewKube func(cfg config.Config) (*kube.Clients, error)
	// Transport carries the calls to registries; nil uses a clone of
	// http.DefaultTransport, made once.
	Transport http.RoundTripper

	mu        sync.Mutex
	kubeKey   string
	kubeCli   *kube.Clients
	transport *http.Transport
}

// Transport is the HTTP transport for outbound calls (the registry), shared
// by the activations of a warm container so connections are reused.
func (inv *Invocation) Transport() http.RoundTripper {
	e := inv.env
	if e.Transport != nil {
		return e.Transport
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.transport == nil {
		e.transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	return e.transport
}

func (e *Env) kube(cfg config.Config) (*kube.Clients, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.kubeCli != nil && e.kubeKey == cfg.Kubeconfig {
		return e.kubeCli, nil
	}
	build := e.NewKube
	if build == nil {
		build = defaultKube
	}
	c, err := build(cfg)
	if err != nil {
		return nil, err
	}
	e.kubeCli, e.kubeKey = c, cfg.Kubeconfig
	return c, nil
}

func defaultKube(cfg config.Config) (*kube.Clients, error) {
	rc, err := kube.DefaultLoader().RESTConfig(cfg.Kubeconfig)
	if err != nil {
		return nil, err
	}
	return kube.NewClients(rc)
}

// Main runs the actions of one exec under the Go runtime. With more than one
// action (the registry binary), the activation picks its action by the
// `operation` parameter, else by its own name.
func Main(actions ...Action) {
	env := &Env{}
	actionloop.Main(env.Handler(actions...))
}

// Handler returns the ActionLoop handler serving actions.
func (e *Env) Handler(actions ...Action) actionloop.Handler {
	return func(ctx context.Context, act actionloop.Activation) any {
		start := time.Now()
		p := params.Params(act.Value)
		req, isWeb := web.FromParams(p)
		a, result, err := e.dispatch(ctx, act, p, req, actions)
		status := 200
		if r, ok := result.(Response); ok {
			status, result = r.Status, r.Body
		}
		var headers map[string]string
		if err != nil {
			headers = apperr.HeadersOf(err)
			status = apperr.Status(err)
			if status >= 500 {
				// The cause stays in the log; the caller gets the message.
				act.Log.Printf("%s: error: %v%s", a, err, apperr.Cause(err))
			}
			result = map[string]any{"error": apperr.Message(err)}
		}
		act.Log.Printf("%s: %d in %s", a, status, time.Since(start).Round(time.Microsecond))
		if isWeb {
			resp := web.JSON(status, result)
			for k, v := range headers {
				resp.Headers[k] = v
			}
			return resp
		}
		return result
	}
}

func (e *Env) dispatch(ctx context.Context, act actionloop.Activation, p params.Params, req *web.Request, actions []Action) (string, any, error) {
	a, err := pick(act, p, actions)
	if err != nil {
		return "builder", nil, err
	}
	admins, err := config.Admins(p)
	if err != nil {
		return a.Name, nil, err
	}
	caller, err := identity.Resolve(req, act.Field("namespace"), admins)
	if err != nil {
		return a.Name, nil, err
	}
	if req != nil && !web.MethodAllowed(req.Method, a.Methods) {
		return a.Name, nil, apperr.MethodNotAllowed("%s does not accept %s; use %s", a.Name, req.Method, strings.Join(a.Methods, " or "))
	}
	cfg, err := config.FromParams(p)
	if err != nil {
		// Every input is bound and every action final (manifest.yaml): a
		// parameter that does not hold is the operator's to mend.
		return a.Name, nil, apperr.Wrap(http.StatusInternalServerError, err, "the builder's configuration is wrong; an operator must mend it")
	}
	inv := &Invocation{Params: p, Caller: caller, Config: cfg, Log: act.Log, env: e}
	res, err := a.Run(ctx, inv)
	return a.Name, res, err
}

func pick(act actionloop.Activation, p params.Params, actions []Action) (Action, error) {
	if len(actions) == 1 {
		return actions[0], nil
	}
	op, err := p.String("operation", path.Base(act.Field("action_name")))
	if err != nil {
		return Action{}, err
	}
	names := make([]string, 0, len(actions))
	for _, a := range actions {
		if a.Name == op {
			return a, nil
		}
		names = append(names, a.Name)
	}
	return Action{}, apperr.BadRequest("unknown operation %q: expected one of %s", op, strings.Join(names, ", "))
}

// NewInvocation builds an invocation directly, for running an action's Func
// in tests and benchmarks without the ActionLoop around it.
func NewInvocation(env *Env, p params.Params, caller identity.Caller, cfg config.Config, logger *log.Logger) *Invocation {
	return &Invocation{Params: p, Caller: caller, Config: cfg, Log: logger, env: env}
}
