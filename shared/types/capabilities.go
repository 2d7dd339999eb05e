package types

// Offer is capabilities' result.
type Offer struct {
	User     string         `json:"user"`
	Admin    bool           `json:"admin"`
	Builders []BuilderOffer `json:"builders"`
	Kinds    []KindOffer    `json:"kinds"`
	// Sources says what a caller may build FROM besides the builders.
	Sources string `json:"sources"`
	// AllowedSources are the prefixes of allowed_sources.
	AllowedSources     []string `json:"allowed_sources"`
	SharedRepositories []string `json:"shared_repositories"`
	Limits             Limits   `json:"limits"`
	BuildCache         bool     `json:"build_cache"`
	Provenance         bool     `json:"provenance"`
	Version            string   `json:"version"`
}

// BuilderOffer is one builder of the catalog.
type BuilderOffer struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Source string `json:"source"`
	File   string `json:"file"` // the kind's requirements file
}

// KindOffer is one kind and its requirements file.
type KindOffer struct {
	Name string `json:"name"`
	File string `json:"file"`
	// Secrets are the build secrets the kind's builds read (send's and
	// ensure's secrets parameter); [] for none.
	Secrets []string `json:"secrets"`
}

// Limits are the fair-use limits that apply to the caller.
type Limits struct {
	MaxActiveBuilds   int `json:"max_active_builds"` // 0: none
	MaxRetainedBuilds int `json:"max_retained_builds"`
	MaxContextBytes   int `json:"max_context_bytes"`
	// MaxSecretBytes bounds each build secret's value.
	MaxSecretBytes      int `json:"max_secret_bytes"`
	BuildTimeoutSeconds int `json:"build_timeout_seconds"`
}
