package builds

import (
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/kube"
)

// Logger is where the builder notes what it did and what failed beside
// an answer: the action's log.
type Logger interface {
	Printf(format string, v ...any)
}

// Namespace is the builds of one build namespace and everything a
// build's life does there: start (start.go), stop and cancel
// (cancel.go), rebuild (rebuild.go), prune (prune.go) and clean
// (clean.go); the handlers call it and shape its answers.
type Namespace struct {
	Name       string
	Jobs       kube.Jobs
	Pods       kube.Pods
	ConfigMaps kube.ConfigMaps
	// Secrets creates the builds' Secrets of build secrets.
	Secrets kube.Secrets
	Log     Logger
}

// In is the build namespace of cfg, through k.
func In(k *kube.Clients, cfg config.Config, log Logger) Namespace {
	ns := cfg.BuildNamespace
	return Namespace{Name: ns, Jobs: k.Batch.Jobs(ns), Pods: k.Core.Pods(ns), ConfigMaps: k.Core.ConfigMaps(ns), Secrets: k.Core.Secrets(ns), Log: log}
}

// Records is the namespace's record store.
func (n Namespace) Records() Records {
	return Records{ConfigMaps: n.ConfigMaps, Namespace: n.Name}
}

// Index is the index of user's builds.
func (n Namespace) Index(user string) Index {
	return Index{Jobs: n.Jobs, Records: n.Records(), User: user}
}

// Limits bound what one user's builds hold (docs/contract.md, "Fair
// use").
type Limits struct {
	// Active bounds a user's unfinished builds; 0 is no bound.
	Active int
	// Retained is how many finished builds a user keeps.
	Retained int
	// ContextBytes bounds a build's context.
	ContextBytes int
}

// LimitsOf are cfg's limits for a caller: an admin starts builds without
// a bound.
func LimitsOf(cfg config.Config, admin bool) Limits {
	l := Limits{Active: cfg.MaxActiveBuilds, Retained: cfg.MaxRetainedBuilds, ContextBytes: cfg.MaxContextBytes}
	if admin {
		l.Active = 0
	}
	return l
}
