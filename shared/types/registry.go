package types

import "time"

// Repositories is list-catalogs' result.
type Repositories struct {
	Repositories []string `json:"repositories"`
}

// Tags is list-images' result: the tags of one repository.
type Tags struct {
	Name string   `json:"name"`
	Tags []string `json:"tags"`
}

// Image is what the registry holds for one reference: get-image's
// result.
type Image struct {
	Name      string `json:"name"`      // repository, without host
	Reference string `json:"reference"` // as asked, without host
	// Image is the full reference users deploy with; the registry
	// actions set it (with registry_pull_host).
	Image     string         `json:"image,omitempty"`
	Digest    string         `json:"digest"`
	MediaType string         `json:"media_type"`
	Size      int64          `json:"size"` // of the manifest itself
	Manifest  map[string]any `json:"manifest"`
	// Config summarizes an image's configuration; nil for an index of
	// several images.
	Config *ImageConfig `json:"config,omitempty"`
	// For an index of one image and its attestations (what BuildKit pushes
	// with provenance): the index itself, and the image's digest; Manifest
	// and Config are then the image's.
	Index          map[string]any `json:"index,omitempty"`
	PlatformDigest string         `json:"platform_digest,omitempty"`
	// Attestations are the index's attestation manifests.
	Attestations []Attestation `json:"attestations,omitempty"`
}

// Attestation is one attestation manifest of an index: what it states
// (its in-toto predicate types) about which image.
type Attestation struct {
	Digest         string   `json:"digest"`
	PredicateTypes []string `json:"predicate_types"`
	SubjectDigest  string   `json:"subject_digest"`
}

// ImageConfig is the part of an image's configuration a user checks.
type ImageConfig struct {
	OS           string    `json:"os"`
	Architecture string    `json:"architecture"`
	Created      time.Time `json:"created"`
	User         string    `json:"user,omitempty"`
	Entrypoint   []string  `json:"entrypoint,omitempty"`
	Cmd          []string  `json:"cmd,omitempty"`
	WorkingDir   string    `json:"working_dir,omitempty"`
	Layers       int       `json:"layers"`
	// TotalSize is the config blob plus every layer, compressed: what the
	// image takes in the registry.
	TotalSize int64 `json:"total_size"`
}

// Deleted is delete-image's result.
type Deleted struct {
	Deleted bool   `json:"deleted"`
	Image   string `json:"image"`
	Digest  string `json:"digest"`
	// Attestations are the digests of the attestation manifests deleted
	// with the image.
	Attestations []string `json:"attestations,omitempty"`
	Message      string   `json:"message"`
}

// TOMLWritten is updatetoml's result.
type TOMLWritten struct {
	ConfigMap string `json:"configmap"`
	Changed   bool   `json:"changed"`
	Message   string `json:"message"`
}
