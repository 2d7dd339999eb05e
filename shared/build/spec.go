// Package build turns a send request into a build: it validates the input,
// writes the Dockerfile, and creates the ConfigMap and Job that BuildKit runs
// in (SPEC §5); it also reports a build's status and log.
package build

import (
	"encoding/base64"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/reference"
)

// Request is a validated build request.
type Request struct {
	Source string // the base image, as given
	// SourceDigest and SourceUser are what send resolved the source to:
	// the digest the build is FROM, and the user its image runs as ("" is
	// root).
	SourceDigest string
	SourceUser   string
	Repo         string // target repository, such as devel
	Tag          string // target tag
	Kind         kinds.Kind
	File         []byte // the requirements file; nil for none
}

// Target is the target as the user wrote it.
func (r Request) Target() string { return r.Repo + ":" + r.Tag }

// sourceChars are the only characters an image reference has: anything else
// (space, newline, quote, $) could change the Dockerfile.
var sourceChars = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/@-]*$`)

// ParseSource checks that source is an image reference that is safe to put
// after FROM.
func ParseSource(source string) error {
	if source == "" {
		return apperr.BadRequest("parameter \"source\" is required: the base runtime image, such as apache/openserverless-runtime-python:v3.13-2506091954")
	}
	if len(source) > 512 || !sourceChars.MatchString(source) {
		return apperr.BadRequest("source %s is not an image reference: only letters, digits and . _ : / @ - are allowed", quoteShort(source))
	}
	if _, err := name.ParseReference(source); err != nil {
		return apperr.BadRequest("source %s is not an image reference: %v", quoteShort(source), err)
	}
	return nil
}

// ParseTarget splits target "<repo>:<tag>" and checks both against the OCI
// grammar and the caller's ownership.
func ParseTarget(target string, caller identity.Caller) (repo, tag string, err error) {
	if target == "" {
		return "", "", apperr.BadRequest("parameter \"target\" is required: <repo>:<tag>, such as %s:python3.13-custom", caller.Name)
	}
	colon := strings.LastIndex(target, ":")
	if colon < 0 || colon < strings.LastIndex(target, "/") {
		return "", "", apperr.BadRequest("target %s has no tag: write <repo>:<tag>, such as %s:python3.13-custom", quoteShort(target), caller.Name)
	}
	repo, tag = target[:colon], target[colon+1:]
	if !reference.ValidRepository(repo) {
		return "", "", apperr.BadRequest("target repository %s is not valid: lower-case letters, digits and separators, components joined by '/', such as %s or %s/python", quoteShort(repo), caller.Name, caller.Name)
	}
	if !reference.ValidTag(tag) {
		return "", "", apperr.BadRequest("target tag %s is not valid: up to 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'", quoteShort(tag))
	}
	if err := caller.Authorize(repo); err != nil {
		return "", "", err
	}
	if IsCache(repo) {
		return "", "", apperr.BadRequest("target repository %s is reserved for the build cache: choose another, such as %s/python", quoteShort(repo), caller.Name)
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
	// base64 -i wraps lines; whitespace carries nothing.
	clean := strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, b64)
	// Refuse before decoding what could not fit anyway.
	if base64.RawStdEncoding.DecodedLen(len(strings.TrimRight(clean, "="))) > limit {
		return nil, tooLarge(limit)
	}
	data, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		data, err = base64.RawStdEncoding.DecodeString(clean)
	}
	if err != nil {
		return nil, apperr.BadRequest("parameter \"file\" is not valid base64: encode the requirements file with base64 -w0")
	}
	if !utf8.Valid(data) || strings.ContainsRune(string(data), 0) {
		return nil, apperr.BadRequest("parameter \"file\" is not UTF-8 text: it must be the requirements file itself, base64-encoded")
	}
	return data, nil
}

func tooLarge(limit int) error {
	return apperr.TooLarge("the build context (Dockerfile and requirements file) exceeds the limit of %d bytes (max_context_bytes): make the requirements file smaller", limit)
}

// quoteShort quotes user input for a message, cut to a readable length.
func quoteShort(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strings.ReplaceAll(strings.ReplaceAll(`"`+s+`"`, "\n", `\n`), "\r", `\r`)
}
