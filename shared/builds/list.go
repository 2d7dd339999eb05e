package builds

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"sort"
	"time"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/kube"
	"github.com/apache/openserverless-builder/shared/types"
)

// cursor is where a page ends: the last build shown. Opaque to callers.
type cursor struct {
	Created time.Time `json:"c"`
	JobName string    `json:"j"`
}

// List is the page of user's builds (everyone's for "") after the one
// whose cursor is next ("": the first page), of at most limit builds. The
// finished builds shown that have no record get one now.
func (n Namespace) List(ctx context.Context, user, next string, limit int) (*types.BuildPage, error) {
	var after *cursor
	if next != "" {
		raw, err := base64.RawURLEncoding.DecodeString(next)
		after = &cursor{}
		if err != nil || json.Unmarshal(raw, after) != nil || after.JobName == "" {
			return nil, apperr.BadRequest("next is not a cursor of the builds action: pass the next of its last result")
		}
	}
	jobs, recs, err := n.history(ctx, user)
	if err != nil {
		return nil, err
	}
	all := Merge(jobs, recs)
	start := 0
	if after != nil {
		start = sort.Search(len(all), func(i int) bool {
			return !Newer(all[i].Created, all[i].JobName, after.Created, after.JobName) && all[i].JobName != after.JobName
		})
	}
	end := min(start+limit, len(all))
	page := &types.BuildPage{Builds: all[start:end]}
	if page.Builds == nil {
		page.Builds = []types.Build{}
	}
	if end < len(all) {
		last := all[end-1]
		raw, _ := json.Marshal(cursor{last.Created, last.JobName})
		page.Next = base64.RawURLEncoding.EncodeToString(raw)
	}
	recorded := map[string]bool{}
	for _, r := range recs {
		recorded[r.JobName] = true
	}
	shown := map[string]int{}
	for i, b := range page.Builds {
		shown[b.JobName] = i
	}
	for i := range jobs {
		j := &jobs[i]
		at, ok := shown[j.Name]
		if _, done := FinishedAt(j); !done || recorded[j.Name] || !ok {
			continue
		}
		rec, err := RecordNew(ctx, n.Pods, n.Records(), j)
		if err != nil {
			n.Log.Printf("%v", err)
			continue
		}
		// The record says what the Job alone cannot: why a node stopped
		// the build.
		page.Builds[at] = rec.Build
	}
	return page, nil
}

// history reads the builds of user by name, through their index; an
// admin's listing of every user's builds ("") lists them by label, from
// the watch cache.
func (n Namespace) history(ctx context.Context, user string) ([]batchv1.Job, []Record, error) {
	if user != "" {
		h, err := n.Index(user).Load(ctx)
		return h.Jobs, h.Records, err
	}
	jobs, err := UserJobs(ctx, n.Jobs, "", kube.Cached)
	if err != nil {
		return nil, nil, err
	}
	recs, err := n.Records().List(ctx, "", kube.Cached)
	return jobs, recs, err
}
