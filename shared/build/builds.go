package build

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/apache/openserverless-builder/shared/action"
	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/reference"
	"github.com/apache/openserverless-builder/shared/web"
)

// BuildsAction lists the caller's builds, newest first, paged.
var BuildsAction = action.Action{Name: "builds", Methods: web.Read(), Run: builds}

// Page sizes of builds.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// BuildList is the builds action's result.
type BuildList struct {
	Builds []Build `json:"builds"`
	// Next is the cursor of the next page; absent on the last.
	Next string `json:"next,omitempty"`
}

// cursor is where a page ends: the last build shown. Opaque to callers.
type cursor struct {
	Created time.Time `json:"c"`
	JobName string    `json:"j"`
}

func builds(ctx context.Context, inv *action.Invocation) (any, error) {
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
		return nil, apperr.BadRequest("user %s is not a user name: lower-case letters and digits, separated by '.', '_', '__' or '-'", quoteShort(user))
	case !inv.Caller.Admin && user != "" && user != inv.Caller.Name:
		return nil, apperr.Forbidden("the builds of %s are not yours: only admins see other users' builds", quoteShort(user))
	case !inv.Caller.Admin:
		user = inv.Caller.Name
	}
	k, err := inv.Kube()
	if err != nil {
		return nil, err
	}
	ns := inv.Config.KubeNamespace
	records := RecordsIn(k, ns)
	jobs, err := UserJobs(ctx, k.Batch.Jobs(ns), user)
	if err != nil {
		return nil, err
	}
	recs, err := records.List(ctx, user)
	if err != nil {
		return nil, err
	}
	all := merge(jobs, recs)
	start := 0
	if after != nil {
		start = sort.Search(len(all), func(i int) bool {
			return newer(cursor{all[i].Created, all[i].JobName}, *after) == false && all[i].JobName != after.JobName
		})
	}
	end := min(start+limit, len(all))
	page := &BuildList{Builds: all[start:end]}
	if page.Builds == nil {
		page.Builds = []Build{}
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
	for i := range jobs {
		j := &jobs[i]
		if _, done := FinishedAt(j); done && !recorded[j.Name] && shown(page.Builds, j.Name) {
			if err := recordNew(ctx, k.Core.Pods(ns), records, j); err != nil {
				inv.Log.Printf("builds: %v", err)
			}
		}
	}
	return page, nil
}

func shown(bs []Build, jobName string) bool {
	for _, b := range bs {
		if b.JobName == jobName {
			return true
		}
	}
	return false
}

// newer orders builds newest first: by creation, then by name.
func newer(a, b cursor) bool {
	if !a.Created.Equal(b.Created) {
		return a.Created.After(b.Created)
	}
	return a.JobName > b.JobName
}

// merge is every build of jobs and records, once each, newest first. A
// build with both is its record (it was seen finished, or cancelled) with
// what the Job adds.
func merge(jobs []batchv1.Job, recs []Record) []Build {
	byName := map[string]Build{}
	for i := range jobs {
		b := fromJob(&jobs[i])
		byName[b.JobName] = b
	}
	for _, r := range recs {
		byName[r.JobName] = r.Build
	}
	out := make([]Build, 0, len(byName))
	for _, b := range byName {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		return newer(cursor{out[i].Created, out[i].JobName}, cursor{out[j].Created, out[j].JobName})
	})
	return out
}
