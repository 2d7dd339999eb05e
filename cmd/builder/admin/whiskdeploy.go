package admin

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/apache/openwhisk-client-go/whisk"
)

// Whisk is the operator's access to OpenWhisk: Client in the package's
// namespace, System in whisk.system (the alarm feed).
type Whisk struct {
	Client    *whisk.Client
	System    *whisk.Client
	Auth      string // the operator's uuid:key, which a feed needs
	Namespace string // where the package lives
}

// entity is one OpenWhisk entity install deploys.
type entity struct {
	kind, name string
	stamp      func() (string, error)                  // sets and returns the digest
	get        func() (whisk.KeyValueArr, bool, error) // the live annotations
	put        func() error
	del        func() error
}

func (e entity) String() string { return e.kind + " " + e.name }

// entities are the package's, in the order they are created: the package
// before its actions, a trigger before its rule.
func (w *Whisk) entities(p *Package, feed bool) []entity {
	var out []entity
	pkg := p.Package
	out = append(out, entity{kind: "package", name: pkg.Name,
		stamp: func() (string, error) { return stamp(&pkg.Annotations, pkg, &pkg.Parameters) },
		get: func() (whisk.KeyValueArr, bool, error) {
			live, resp, err := w.Client.Packages.Get(pkg.Name)
			return found(resp, err, func() whisk.KeyValueArr { return live.Annotations })
		},
		put: func() error { _, _, err := w.Client.Packages.Insert(pkg, true); return err },
		del: func() error { _, err := w.Client.Packages.Delete(pkg.Name); return err },
	})
	for _, a := range p.Actions {
		out = append(out, entity{kind: "action", name: a.Name,
			stamp: func() (string, error) { return stamp(&a.Annotations, a, &a.Parameters) },
			get: func() (whisk.KeyValueArr, bool, error) {
				live, resp, err := w.Client.Actions.Get(a.Name, false)
				return found(resp, err, func() whisk.KeyValueArr { return live.Annotations })
			},
			put: func() error { _, _, err := w.Client.Actions.Insert(a, true); return err },
			del: func() error { _, err := w.Client.Actions.Delete(a.Name); return err },
		})
	}
	if !feed {
		return out
	}
	for _, t := range p.Triggers {
		out = append(out, entity{kind: "trigger", name: t.Name,
			stamp: func() (string, error) { return stamp(&t.Annotations, t, &t.Parameters) },
			get: func() (whisk.KeyValueArr, bool, error) {
				live, resp, err := w.Client.Triggers.Get(t.Name)
				return found(resp, err, func() whisk.KeyValueArr { return live.Annotations })
			},
			put: func() error {
				// A changed trigger leaves its feed first, then joins again.
				_, resp, err := w.Client.Triggers.Get(t.Name)
				if _, exists, err := found(resp, err, nil); err != nil {
					return err
				} else if exists {
					if err := w.lifecycle(t, "DELETE"); err != nil {
						return err
					}
				}
				if _, _, err := w.Client.Triggers.Insert(t, true); err != nil {
					return err
				}
				return w.lifecycle(t, "CREATE")
			},
			del: func() error {
				if err := w.lifecycle(t, "DELETE"); err != nil {
					return err
				}
				_, _, err := w.Client.Triggers.Delete(t.Name)
				return err
			},
		})
	}
	for _, r := range p.Rules {
		r.Trigger, r.Action = w.qualified(fmt.Sprint(r.Trigger)), w.qualified(fmt.Sprint(r.Action))
		out = append(out, entity{kind: "rule", name: r.Name,
			stamp: func() (string, error) { return stamp(&r.Annotations, r) },
			get: func() (whisk.KeyValueArr, bool, error) {
				live, resp, err := w.Client.Rules.Get(r.Name)
				return found(resp, err, func() whisk.KeyValueArr { return live.Annotations })
			},
			put: func() error { _, _, err := w.Client.Rules.Insert(r, true); return err },
			del: func() error { _, err := w.Client.Rules.Delete(r.Name); return err },
		})
	}
	return out
}

// found reads a GET of an entity: its annotations (annotations is called
// only when the entity exists), false when there is none.
func found(resp *http.Response, err error, annotations func() whisk.KeyValueArr) (whisk.KeyValueArr, bool, error) {
	switch {
	case isNotFound(resp, err):
		return nil, false, nil
	case err != nil:
		return nil, false, err
	case annotations == nil:
		return nil, true, nil
	}
	return annotations(), true, nil
}

// qualified is name with the package's namespace, as a rule names its
// trigger and action.
func (w *Whisk) qualified(name string) string {
	if strings.HasPrefix(name, "/") {
		return name
	}
	return "/" + w.Namespace + "/" + name
}

// lifecycle tells the trigger's feed that it is created or deleted, as
// wsk does: the feed action gets the trigger's name, the caller's key and
// the trigger's parameters.
func (w *Whisk) lifecycle(t *whisk.Trigger, event string) error {
	p := map[string]any{"lifecycleEvent": event, "triggerName": "/" + w.Namespace + "/" + t.Name, "authKey": w.Auth}
	for _, kv := range t.Parameters {
		p[kv.Key] = kv.Value
	}
	if _, _, err := w.System.Actions.Invoke("alarms/alarm", p, true, true); err != nil {
		return fmt.Errorf("telling the alarm feed of %s (%s): %w", t.Name, event, err)
	}
	return nil
}

// hasAlarms says whether the alarm feed exists.
func (w *Whisk) hasAlarms() (bool, error) {
	_, resp, err := w.System.Actions.Get("alarms/alarm", false)
	if isNotFound(resp, err) {
		return false, nil
	}
	if resp != nil && resp.StatusCode == http.StatusForbidden {
		return false, nil
	}
	return err == nil, err
}

// plan says what deploying e changes.
func plan(e entity) (Change, error) {
	want, err := e.stamp()
	if err != nil {
		return "", err
	}
	live, found, err := e.get()
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", e, whiskError(err))
	}
	switch {
	case !found:
		return Created, nil
	case value(live, DigestAnnotation) == want:
		return Unchanged, nil
	}
	return Changed, nil
}

// whiskError strips openwhisk-client-go's decoration.
func whiskError(err error) error {
	var werr *whisk.WskError
	if errors.As(err, &werr) && werr.RootErr != nil {
		return werr.RootErr
	}
	return err
}
