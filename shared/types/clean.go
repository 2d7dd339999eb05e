package types

import "time"

// Failure is an object that could not be deleted.
type Failure struct {
	Name  string `json:"name"`
	Error string `json:"error"`
}

// Cleaned is cleanjobs' result.
type Cleaned struct {
	Deleted    int      `json:"deleted"`
	Jobs       []string `json:"jobs"`
	ConfigMaps []string `json:"configmaps"`
	// Records are the build records deleted for being older than
	// record_retention_days.
	Records []string `json:"records"`
	// Pruned are the finished builds (by Job name) removed, Job and record
	// together, for being beyond max_retained_builds.
	Pruned  []string  `json:"pruned"`
	Failed  []Failure `json:"failed,omitempty"`
	DryRun  bool      `json:"dry_run"`
	Cutoff  time.Time `json:"cutoff"`
	Message string    `json:"message"`
}
