package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
)

// settings say where the actions are and who calls them.
type settings struct {
	APIHost   string // OpenWhisk API host, with or without scheme
	Auth      string // uuid:key
	Namespace string // the caller's namespace
	// PackageNamespace and Package locate the actions: /<ns>/<package>/<action>.
	PackageNamespace string
	Package          string
	// Web calls the web actions (users); otherwise actions are invoked
	// plainly (admins). "" chooses: plain when Namespace is PackageNamespace.
	Mode     string
	Insecure bool
}

// loadSettings reads ~/.wskprops (or $WSK_CONFIG_FILE), as ops and wsk write
// it, then the environment; flags override both afterwards.
func loadSettings(getenv func(string) string) (settings, error) {
	s := settings{PackageNamespace: "nuvolaris", Package: "builder"}
	path := getenv("WSK_CONFIG_FILE")
	if path == "" {
		if home := getenv("HOME"); home != "" {
			path = filepath.Join(home, ".wskprops")
		}
	}
	if path != "" {
		props, err := whisk.ReadProps(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return s, fmt.Errorf("reading %s: %w", path, err)
		}
		s.APIHost, s.Auth, s.Namespace = props["APIHOST"], props["AUTH"], props["NAMESPACE"]
	}
	for env, field := range map[string]*string{
		"BUILDER_APIHOST": &s.APIHost, "BUILDER_AUTH": &s.Auth, "BUILDER_NAMESPACE": &s.Namespace,
		"BUILDER_PACKAGE_NAMESPACE": &s.PackageNamespace, "BUILDER_PACKAGE": &s.Package,
	} {
		if v := getenv(env); v != "" {
			*field = v
		}
	}
	return s, nil
}

// caller invokes the builder's actions.
type caller struct {
	s      settings
	client *whisk.Client
	http   *http.Client
	web    bool
}

func newCaller(s settings) (*caller, error) {
	if s.APIHost == "" || s.Auth == "" {
		return nil, errors.New("no OpenWhisk credentials: log in with `ops -login` (it writes ~/.wskprops), or set --apihost and --auth")
	}
	base, err := whisk.GetUrlBase(s.APIHost)
	if err != nil {
		return nil, fmt.Errorf("API host %q: %w", s.APIHost, err)
	}
	ns := s.Namespace
	if ns == "" {
		ns = "_"
	}
	hc := &http.Client{Timeout: 5 * time.Minute}
	if s.Insecure {
		hc.Transport = insecureTransport()
	}
	c, err := whisk.NewClient(hc, &whisk.Config{
		Host: s.APIHost, BaseURL: base, AuthToken: s.Auth, Namespace: s.PackageNamespace,
		Version: "v1", Insecure: s.Insecure, UserAgent: "openserverless-builder-cli",
	})
	if err != nil {
		return nil, err
	}
	web := s.Mode == "web" || s.Mode == "" && ns != s.PackageNamespace
	return &caller{s: s, client: c, http: hc, web: web}, nil
}

// call runs action with params and returns its result. The error is the
// action's own message when it failed.
func (c *caller) call(ctx context.Context, action, method string, params map[string]any) (map[string]any, error) {
	if c.web {
		return c.callWeb(ctx, action, method, params)
	}
	res, _, err := c.client.Actions.Invoke(c.s.Package+"/"+action, params, true, true)
	if err != nil {
		return nil, actionError(err)
	}
	m, ok := res.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s returned %T, not an object", action, res)
	}
	return m, nil
}

// callWeb calls the web action with the caller's credentials: the action
// sees them as __ow_user. openwhisk-client-go builds the request; the
// response is the web action's own (its status and JSON body), so it is
// read here.
func (c *caller) callWeb(ctx context.Context, action, method string, params map[string]any) (map[string]any, error) {
	rel := &url.URL{Path: "v1/web/" + c.s.PackageNamespace + "/" + c.s.Package + "/" + action}
	req, err := c.client.NewRequestUrl(method, rel, params, whisk.DoNotIncludeNamespaceInUrl, whisk.DoNotAppendOpenWhiskPathPrefix, whisk.EncodeBodyAsJson, whisk.AuthRequired)
	if err != nil {
		return nil, err
	}
	resp, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("calling %s: %w", action, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil && resp.StatusCode < 300 {
		return nil, fmt.Errorf("%s answered %s without a JSON object", action, resp.Status)
	}
	if resp.StatusCode >= 300 {
		if msg, ok := body["error"].(string); ok {
			return nil, errors.New(msg)
		}
		return nil, fmt.Errorf("%s answered %s", action, resp.Status)
	}
	return body, nil
}

// actionError strips openwhisk-client-go's decoration from an action's error.
func actionError(err error) error {
	var werr *whisk.WskError
	if errors.As(err, &werr) {
		return errors.New(strings.TrimSpace(werr.RootErr.Error()))
	}
	return err
}
