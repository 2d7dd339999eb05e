package handlers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"sort"
	"time"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/builds"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/reference"
	"github.com/apache/openserverless-builder/shared/web"
	batchv1 "k8s.io/api/batch/v1"
)

// Builds lists the caller's builds, newest first, paged.
var Builds = action.Action{Name: "builds", Methods: web.Read(), Run: listBuilds}

// Page sizes of builds.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// BuildList is the builds action's result.
type BuildList struct {
	Builds []builds.Build `json:"builds"`
	// Next is the cursor of the next page; absent on the last.
	Next string `json:"next,omitempty"`
}

// cursor is where a page ends: the last build shown. Opaque to callers.
type cursor struct {
	Created time.Time `json:"c"`
	JobName string    `json:"j"`
}

func listBuilds(ctx context.Context, inv *action.Invocation) (any, error) {
	limit, err := inv.Params.Int("limit", DefaultLimit)
	if err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxLimit {
		return nil, apperr.BadRequest("limit must be between 1 and %d, got %d", MaxLimit, limit)
	}
	var after *cursor
	if next, err := inv.Params.String("next", ""); err != nil {
		return nil, err
	} else if next != "" {
		raw, err := base64.RawURLEncoding.DecodeString(next)
		after = &cursor{}
		if err != nil || json.Unmarshal(raw, after) != nil || after.JobName == "" {
			return nil, apperr.BadRequest("next is not a cursor of the builds action: pass the next of its last result")
		}
	}
	user, err := inv.Params.String("user", "")
	if err != nil {
		return nil, err
	}
	switch {
	case user != "" && !reference.ValidComponent(user):
		return nil, apperr.BadRequest("user %s is not a user name: lower-case letters and digits, separated by '.', '_', '__' or '-'", apperr.Quote(user))
	case !inv.Caller.Admin && user != "" && user != inv.Caller.Name:
		return nil, apperr.Forbidden("the builds of %s are not yours: only admins see other users' builds", apperr.Quote(user))
	case !inv.Caller.Admin:
		user = inv.Caller.Name
	}
	k, err := inv.Kube()
	if err != nil {
		return nil, err
	}
	ns := inv.Config.BuildNamespace
	records := builds.RecordsIn(k, ns)
	jobs, recs, err := history(ctx, k, ns, user)
	if err != nil {
		return nil, err
	}
	all := builds.Merge(jobs, recs)
	start := 0
	if after != nil {
		start = sort.Search(len(all), func(i int) bool {
			return !builds.Newer(all[i].Created, all[i].JobName, after.Created, after.JobName) && all[i].JobName != after.JobName
		})
	}
	end := min(start+limit, len(all))
	page := &BuildList{Builds: all[start:end]}
	if page.Builds == nil {
		page.Builds = []builds.Build{}
	}
	if end < len(all) {
		last := all[end-1]
		raw, _ := json.Marshal(cursor{last.Created, last.JobName})
		page.Next = base64.RawURLEncoding.EncodeToString(raw)
	}
	// The finished builds shown that have no record (the list says so)
	// get one now.
	recorded := map[string]bool{}
	for _, r := range recs {
		recorded[r.JobName] = true
	}
	shown := map[string]bool{}
	for _, b := range page.Builds {
		shown[b.JobName] = true
	}
	for i := range jobs {
		j := &jobs[i]
		if _, done := builds.FinishedAt(j); done && !recorded[j.Name] && shown[j.Name] {
			if err := builds.RecordNew(ctx, k.Core.Pods(ns), records, j); err != nil {
				inv.Log.Printf("builds: %v", err)
			}
		}
	}
	return page, nil
}

// history reads the builds of user by name, through their index; an
// admin's listing of every user's builds ("") lists them by label, from
// the watch cache.
func history(ctx context.Context, k *kube.Clients, ns, user string) ([]batchv1.Job, []builds.Record, error) {
	if user != "" {
		h, err := builds.IndexOf(k, ns, user).Load(ctx)
		return h.Jobs, h.Records, err
	}
	jobs, err := builds.UserJobs(ctx, k.Batch.Jobs(ns), "", kube.Cached)
	if err != nil {
		return nil, nil, err
	}
	recs, err := builds.RecordsIn(k, ns).List(ctx, "", kube.Cached)
	return jobs, recs, err
}
