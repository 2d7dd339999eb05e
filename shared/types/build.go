package types

import "time"

// The statuses of a build.
const (
	Pending   = "pending"
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
	Cancelled = "cancelled"
)

// Done reports whether status is final: the build will not change again.
// Every poller (the CLI's --follow, the demo, the tests) stops on it.
func Done(status string) bool {
	return status == Succeeded || status == Failed || status == Cancelled
}

// Build is one build as the builds action lists it.
type Build struct {
	ID           string     `json:"id"`
	JobName      string     `json:"job_name"`
	User         string     `json:"user"`
	Target       string     `json:"target"`
	Image        string     `json:"image"`
	Source       string     `json:"source"`
	SourceDigest string     `json:"source_digest,omitempty"`
	Kind         string     `json:"kind"`
	Status       string     `json:"status"`
	Reason       string     `json:"reason,omitempty"`
	Created      time.Time  `json:"created"`
	Started      *time.Time `json:"started,omitempty"`
	Finished     *time.Time `json:"finished,omitempty"`
	DurationS    *float64   `json:"duration_s,omitempty"`
	Digest       string     `json:"digest,omitempty"`
	// Identity is the hash of what the build makes (its source digest,
	// kind, install step and file): builds of the same make the same.
	Identity string `json:"identity,omitempty"`
	// ReusedFrom is the id of the build whose image this one reused,
	// building nothing.
	ReusedFrom string `json:"reused_from,omitempty"`
	// Note is what the builder says of the build beside its status, such
	// as that it ran without the build cache, and why.
	Note string `json:"note,omitempty"`
}

// Done reports whether the build has ended.
func (b Build) Done() bool { return Done(b.Status) }

// Finish sets when the build ended and how long it took.
func (b *Build) Finish(at time.Time) {
	at = at.UTC()
	b.Finished = &at
	from := b.Created
	if b.Started != nil {
		from = *b.Started
	}
	d := at.Sub(from).Seconds()
	if d < 0 {
		d = 0
	}
	b.DurationS = &d
}

// Status is a build with its log: the logs action's result.
type Status struct {
	Build
	Logs    string `json:"logs"`
	Message string `json:"message,omitempty"`
}

// BuildPage is one page of builds, newest first: the builds action's
// result.
type BuildPage struct {
	Builds []Build `json:"builds"`
	// Next is the cursor of the next page; absent on the last.
	Next string `json:"next,omitempty"`
}

// Sent is send's result.
type Sent struct {
	ID           string `json:"id"`
	JobName      string `json:"job_name"`
	Image        string `json:"image"`
	SourceDigest string `json:"source_digest"`
	Message      string `json:"message"`
	// ReusedFrom, Status and Digest are set when nothing was built: the
	// build whose image the target now names ("" when the target already
	// named it), succeeded, and the image's digest.
	ReusedFrom string `json:"reused_from,omitempty"`
	Status     string `json:"status,omitempty"`
	Digest     string `json:"digest,omitempty"`
}

// Ensured is ensure's result.
type Ensured struct {
	// Status is "ready" when the image exists, else its build's status.
	Status       string `json:"status"`
	Image        string `json:"image"`
	Digest       string `json:"digest,omitempty"`
	ID           string `json:"id,omitempty"`
	JobName      string `json:"job_name,omitempty"`
	SourceDigest string `json:"source_digest"`
	Message      string `json:"message"`
}

// Ready is Ensured.Status for an image that exists.
const Ready = "ready"

// Stopped is cancel's result.
type Stopped struct {
	ID      string `json:"id"`
	JobName string `json:"job_name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}
