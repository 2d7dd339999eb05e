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
	Pruned []string `json:"pruned"`
	// Entries are the users' index entries dropped because their build
	// was never created (its send stopped before it could take its entry
	// back), by Job name; a dry run drops none.
	Entries []string  `json:"entries"`
	Failed  []Failure `json:"failed,omitempty"`
	DryRun  bool      `json:"dry_run"`
	Cutoff  time.Time `json:"cutoff"`
	Message string    `json:"message"`
}
