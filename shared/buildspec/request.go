// Package buildspec says what a build is, with no I/O: the grammar of a
// request (docs/contract.md, "send"), and the plan a validated request
// becomes, written out as a Dockerfile, a build-context ConfigMap and a
// Job.
package buildspec

import (
	"encoding/base64"
	"errors"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/params"
	"github.com/apache/openserverless-builder/shared/reference"
)

// Request is send's input, validated: nothing more.
type Request struct {
	Source string // the base image, as given
	// SourceRef is Source parsed, once.
	SourceRef name.Reference
	Repo      string // target repository, such as devel
	Tag       string // target tag
	Kind      kinds.Kind
	File      []byte // the requirements file; nil for none
	// Secrets are the build secrets by name, each one of the kind's
	// (kinds.Secret): read by the install step alone, and no part of what
	// the build is (ensure's identity) nor of anything stored but the
	// build's own Secret.
	Secrets map[string][]byte
}

// MaxSecretBytes bounds a build secret's value: a configuration file or a
// token, far below what a Kubernetes Secret holds.
const MaxSecretBytes = 16 << 10

// Target is the target as the user wrote it.
func (r Request) Target() string { return r.Repo + ":" + r.Tag }

// ParseRequest reads and validates send's parameters for caller, touching
// nothing: the source (or a builder of the catalog), the target, the kind
// and the file, whose context must fit max_context_bytes.
func ParseRequest(p params.Params, caller identity.Caller, cfg config.Config) (Request, error) {
	target, err := p.String("target", "")
	if err != nil {
		return Request{}, err
	}
	r, err := parseInput(p, cfg)
	if err != nil {
		return Request{}, err
	}
	// Whether the caller may write there (a shared prefix) is checked
	// with the cache's repository, for send and ensure alike (Pushes).
	if r.Repo, r.Tag, err = ParseTarget(target, caller); err != nil {
		return Request{}, err
	}
	return r, nil
}

// ParseEnsure reads ensure's parameters: send's without a target, which
// ensure derives from what is built.
func ParseEnsure(p params.Params, cfg config.Config) (Request, error) {
	if _, ok := p["target"]; ok {
		return Request{}, apperr.BadRequest("ensure names its own target, <user>:<kind>-<hash of what is built>: pass no target")
	}
	return parseInput(p, cfg)
}

// parseInput reads what a build is made of: a builder of the catalog, or a
// source and a kind; and the file.
func parseInput(p params.Params, cfg config.Config) (Request, error) {
	var r Request
	var err error
	get := func(key string) string {
		var v string
		if err == nil {
			v, err = p.String(key, "")
		}
		return v
	}
	builder, source, kindName, b64 := get("builder"), get("source"), get("kind"), get("file")
	if err != nil {
		return Request{}, err
	}
	if builder != "" {
		if source != "" || kindName != "" {
			return Request{}, apperr.BadRequest("pass builder, or source and kind, not both")
		}
		b, ok := cfg.Builders[builder]
		if !ok {
			return Request{}, apperr.BadRequest("builder %s is not known: use one of %s", apperr.Quote(builder), strings.Join(cfg.BuilderIDs(), ", "))
		}
		source, kindName = b.Source, b.Kind
	}
	if r.SourceRef, err = ParseSource(source); err != nil {
		return Request{}, err
	}
	r.Source = source
	kind, ok := kinds.Lookup(strings.ToLower(kindName))
	if !ok {
		return Request{}, apperr.BadRequest("kind %s is not known: use one of %s", apperr.Quote(kindName), strings.Join(kinds.Names(), ", "))
	}
	r.Kind = kind
	if r.File, err = DecodeFile(b64, cfg.MaxContextBytes); err != nil {
		return Request{}, err
	}
	if r.Secrets, err = parseSecrets(p, r.Kind, r.File != nil); err != nil {
		return Request{}, err
	}
	// The context before the source is pinned is the least the build
	// stores: refuse now what cannot fit, before anything is asked of the
	// registry. The pinned plan is measured again, exactly.
	if ContextSize(Plan{Request: r}.Context()) > cfg.MaxContextBytes {
		return Request{}, TooLarge(cfg.MaxContextBytes)
	}
	return r, nil
}

// sourceChars are the only characters an image reference has: anything else
// (space, newline, quote, $) could change the Dockerfile.
var sourceChars = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@-]*$`)

// ParseSource checks that source is an image reference that is safe to put
// after FROM, with a repository of the strict OCI grammar, and parses it.
func ParseSource(source string) (name.Reference, error) {
	if source == "" {
		return nil, apperr.BadRequest("parameter \"source\" is required: the base runtime image, such as apache/openserverless-runtime-python:v3.13-2506091954")
	}
	if len(source) > 512 || !sourceChars.MatchString(source) {
		return nil, apperr.BadRequest("source %s is not an image reference: only letters, digits and . _ : / @ - are allowed", apperr.Quote(source))
	}
	ref, err := name.ParseReference(source)
	if err != nil {
		return nil, apperr.BadRequest("source %s is not an image reference: %v", apperr.Quote(source), err)
	}
	if repo := ref.Context().RepositoryStr(); !reference.ValidRepository(repo) {
		return nil, apperr.BadRequest("source repository %s is not valid: lower-case components of letters and digits, joined by '/', with no '.' or '..' components", apperr.Quote(repo))
	}
	return ref, nil
}

// ParseTarget splits target "<repo>:<tag>" and checks both against the OCI
// grammar and the caller's ownership.
func ParseTarget(target string, caller identity.Caller) (repo, tag string, err error) {
	if target == "" {
		return "", "", apperr.BadRequest("parameter \"target\" is required: <repo>:<tag>, such as %s:python3.13-custom", caller.Name)
	}
	colon := strings.LastIndex(target, ":")
	if colon < 0 || colon < strings.LastIndex(target, "/") {
		return "", "", apperr.BadRequest("target %s has no tag: write <repo>:<tag>, such as %s:python3.13-custom", apperr.Quote(target), caller.Name)
	}
	repo, tag = target[:colon], target[colon+1:]
	if !reference.ValidRepository(repo) {
		return "", "", apperr.BadRequest("target repository %s is not valid: lower-case letters, digits and separators, components joined by '/', such as %s or %s/python", apperr.Quote(repo), caller.Name, caller.Name)
	}
	if !reference.ValidTag(tag) {
		return "", "", apperr.BadRequest("target tag %s is not valid: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'", apperr.Quote(tag))
	}
	if err := caller.Authorize(repo); err != nil {
		return "", "", err
	}
	if names.IsCache(repo) {
		return "", "", apperr.BadRequest("target repository %s is reserved for the build cache: choose another, such as %s/python", apperr.Quote(repo), caller.Name)
	}
	return repo, tag, nil
}

// DecodeFile decodes the base64 file parameter, checking it is UTF-8 text
// of at most limit bytes (the build context's limit: the file alone must
// fit it).
func DecodeFile(b64 string, limit int) ([]byte, error) {
	if b64 == "" {
		return nil, nil
	}
	data, err := decodeBase64(b64, limit)
	if errors.Is(err, errTooLarge) {
		return nil, TooLarge(limit)
	}
	if err != nil {
		return nil, apperr.BadRequest("parameter \"file\" is not valid base64: encode the requirements file with base64 -w0")
	}
	if !utf8.Valid(data) || strings.ContainsRune(string(data), 0) {
		return nil, apperr.BadRequest("parameter \"file\" is not UTF-8 text: it must be the requirements file itself, base64-encoded")
	}
	return data, nil
}

// parseSecrets reads the secrets parameter: an object of the kind's secret
// names to base64 values. No value is ever echoed.
func parseSecrets(p params.Params, kind kinds.Kind, install bool) (map[string][]byte, error) {
	raw, err := p.Strings("secrets")
	if err != nil || len(raw) == 0 {
		return nil, err
	}
	allowed := kind.SecretNames()
	if len(allowed) == 0 {
		return nil, apperr.BadRequest("kind %s takes no build secrets: its builds install from no index that needs one", kind.Name)
	}
	if !install {
		return nil, apperr.BadRequest("build secrets are read by the install step alone: pass them with a requirements file (parameter \"file\")")
	}
	out := make(map[string][]byte, len(raw))
	for name, b64 := range raw {
		if _, ok := kind.Secret(name); !ok {
			return nil, apperr.BadRequest("build secret %s is not one of kind %s: use %s (docs/kinds.md)", params.Name(name), kind.Name, strings.Join(allowed, ", "))
		}
		data, err := decodeBase64(b64, MaxSecretBytes)
		if errors.Is(err, errTooLarge) {
			return nil, apperr.BadRequest("build secret %q exceeds %d bytes", name, MaxSecretBytes)
		}
		if err != nil {
			return nil, apperr.BadRequest("build secret %q is not valid base64: encode the file with base64 -w0", name)
		}
		if len(data) == 0 {
			return nil, apperr.BadRequest("build secret %q is empty: leave it out, or pass its file", name)
		}
		out[name] = data
	}
	return out, nil
}

// SecretNames are the names of the request's build secrets, sorted.
func (r Request) SecretNames() []string {
	out := make([]string, 0, len(r.Secrets))
	for name := range r.Secrets {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// errTooLarge is decodeBase64's answer for a value over its limit.
var errTooLarge = errors.New("too large")

// decodeBase64 decodes b64, padded or not, of at most limit bytes;
// whitespace carries nothing (base64 -i wraps lines). What could not fit
// is refused before it is decoded.
func decodeBase64(b64 string, limit int) ([]byte, error) {
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, b64)
	if base64.RawStdEncoding.DecodedLen(len(strings.TrimRight(clean, "="))) > limit {
		return nil, errTooLarge
	}
	data, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		data, err = base64.RawStdEncoding.DecodeString(clean)
	}
	return data, err
}

// TooLarge is the 413 of a build context over limit bytes.
func TooLarge(limit int) error {
	return apperr.TooLarge("the build context (Dockerfile and requirements file) exceeds the limit of %d bytes (max_context_bytes): make the requirements file smaller", limit)
}

// idRE is what a build id may be: names.NewID makes ten hex digits.
var idRE = regexp.MustCompile(`^[a-z0-9]{1,32}$`)

// ParseBuildRef reads the build a request names: its job_name, or its id.
// Both are checked before they reach the API server: a job name must be a
// Kubernetes name (a DNS label), an id lower-case letters and digits.
// Either may be "" when the request names none.
func ParseBuildRef(p params.Params) (jobName, id string, err error) {
	if jobName, err = p.String("job_name", ""); err != nil {
		return "", "", err
	}
	if id, err = p.String("id", ""); err != nil {
		return "", "", err
	}
	if jobName != "" && len(validation.IsDNS1123Label(jobName)) > 0 {
		return "", "", apperr.BadRequest("job_name %s is not a build's job name, such as build-devel-0123456789", apperr.Quote(jobName))
	}
	if id != "" && !idRE.MatchString(id) {
		return "", "", apperr.BadRequest("id %s is not a build id, such as 0123456789", apperr.Quote(id))
	}
	return jobName, id, nil
}
