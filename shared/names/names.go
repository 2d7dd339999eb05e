// Package names holds what marks the builder's objects in the cluster:
// labels, annotations, the names of Jobs, records and caches, the label
// selectors, and the statuses a build goes through. It does no I/O and
// imports no other package of the builder, so every package may use it.
package names

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Labels and annotations that mark the builder's objects. Selection is
// always by these labels, never by name.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedBy      = "openserverless-builder"
	LabelUser      = "builder.openserverless.apache.org/user"
	LabelBuildID   = "builder.openserverless.apache.org/build-id"
	// LabelRecord marks a build record.
	LabelRecord = "builder.openserverless.apache.org/record"
	// LabelRecordLog marks the log of a build record, kept apart so that
	// listing records reads no logs.
	LabelRecordLog = "builder.openserverless.apache.org/record-log"
	// LabelIndex marks a user's build index, the ConfigMap that names
	// their builds.
	LabelIndex       = "builder.openserverless.apache.org/index"
	AnnotationUser   = "builder.openserverless.apache.org/user"
	AnnotationTarget = "builder.openserverless.apache.org/target"
	AnnotationSource = "builder.openserverless.apache.org/source"
	// AnnotationSourceDigest is the digest the source was resolved to.
	AnnotationSourceDigest = "builder.openserverless.apache.org/source-digest"
	AnnotationKind         = "builder.openserverless.apache.org/kind"
	AnnotationImage        = "builder.openserverless.apache.org/image"
	// AnnotationIdentity is the identity of what the build makes
	// (buildspec.Identity): send reuses an image of the same.
	AnnotationIdentity = "builder.openserverless.apache.org/identity"
	// LabelIdentity is the image label that carries it in the image's
	// config, where send reads it back.
	LabelIdentity = "org.openserverless.builder.identity"
	// AnnotationNote is what the build's status says beside it: that it
	// runs without the build cache, and why.
	AnnotationNote = "builder.openserverless.apache.org/note"
	// LabelJobName is what the Job controller labels a Job's pods with.
	LabelJobName = "batch.kubernetes.io/job-name"
)

// Containers of a build pod: its steps, in the order they run, and the
// daemon beside them. logs reads the steps' logs in that order.
const (
	// StepFetch fetches the source (transfer).
	StepFetch = "fetch"
	// StepFetchCache fetches the user's cache, when there is one (transfer).
	StepFetchCache = "fetch-cache"
	// StepBuild is the build step (buildctl).
	StepBuild = "build"
	// StepPush pushes the image and prints its digest (transfer).
	StepPush = "push"
	// StepPushCache pushes the cache (transfer).
	StepPushCache = "push-cache"
	// StepDaemon is the buildkitd sidecar, beside the steps.
	StepDaemon = "buildkitd"
)

// BuildkitdConfigMap holds buildkitd.toml (written by updatetoml, mounted
// by every build).
const BuildkitdConfigMap = "nuvolaris-buildkitd-conf"

// NewID returns a fresh build id: 10 lower-case hex digits.
func NewID() (string, error) {
	b := make([]byte, 5)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// UserLabel is the value of LabelUser for user: the name itself when it fits
// a label value (63 characters), else a prefix and a hash in upper-case hex.
// Every caller's name is lower case (identity refuses others), so a cut label,
// which has upper-case letters, is never a whole name: no two users share a
// label. The selectors still check the full name in the user annotation.
func UserLabel(user string) string {
	user = strings.ToLower(user)
	if len(user) <= 63 {
		return user
	}
	return strings.TrimRight(user[:46], "._-") + "-" + strings.ToUpper(userHash(user)[:16])
}

// JobName names the Job and the ConfigMap of a build: a DNS label of at most
// 63 characters for any user name, distinct for distinct users. A name that
// fits as it is stands alone; one that had to be folded (".", "_", upper
// case) or cut carries a hash of the whole name after "--", which no name
// standing alone contains: users a.b and a-b, or two long names sharing
// their start, never meet, whatever their build ids (ensure's derive from
// what is built, not from who builds it).
func JobName(user, id string) string {
	// "build-" + part + "-" + id must fit 63.
	max := 63 - len("build-") - 1 - len(id)
	part := labelPart(user, max)
	if part != user || strings.Contains(user, "--") {
		part = labelPart(user, max-len("--")-userHashLen) + "--" + userHash(user)[:userHashLen]
	}
	return "build-" + part + "-" + id
}

// userHash is the hex SHA-256 of a whole user name, which the names cut or
// folded from it carry so that they stay distinct.
func userHash(user string) string {
	sum := sha256.Sum256([]byte(user))
	return hex.EncodeToString(sum[:])
}

// userHashLen is how many hex digits of a user name's hash JobName and
// IndexName keep:
// 48 bits, which no one finds a second name for by trying.
const userHashLen = 12

// labelPart is user as a piece of a DNS label of at most max characters:
// lower-case letters and digits, '-' for the rest.
func labelPart(user string, max int) string {
	part := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(user))
	if len(part) > max {
		part = part[:max]
	}
	part = strings.Trim(part, "-")
	if part == "" {
		part = "user"
	}
	return part
}

// IndexName names the ConfigMap that indexes the builds of user: the
// sanitized name as in JobName, and a hash of the whole name, since cut
// or sanitized names may meet.
func IndexName(user string) string {
	// "index-" + part + "-" + 12 hex digits fits 63.
	return "index-" + labelPart(user, 63-len("index-")-1-userHashLen) + "-" + userHash(user)[:userHashLen]
}

// RecordName is the name of a build's record: its Job's, suffixed.
func RecordName(jobName string) string { return jobName + "-record" }

// BuildSecretName names the Secret of a build's build secrets.
func BuildSecretName(jobName string) string { return jobName + "-secrets" }

// RecordLogName is the name of the ConfigMap holding a record's log.
func RecordLogName(jobName string) string { return jobName + "-log" }

// UserSelector selects the builder's objects of one user; "" selects every
// user's.
func UserSelector(user string) string {
	s := LabelManagedBy + "=" + ManagedBy
	if user != "" {
		s += "," + LabelUser + "=" + UserLabel(user)
	}
	return s
}

// RecordSelector selects the build records of one user; "" every user's.
func RecordSelector(user string) string { return UserSelector(user) + "," + LabelRecord + "=true" }

// ContextSelector selects the build contexts of one user: neither records
// nor their logs.
func ContextSelector(user string) string {
	return UserSelector(user) + ",!" + LabelRecord + ",!" + LabelRecordLog + ",!" + LabelIndex
}

// BuildSelector selects the builder's objects of one build id.
func BuildSelector(id string) string {
	return LabelManagedBy + "=" + ManagedBy + "," + LabelBuildID + "=" + id
}

// PodSelector selects the pods of a Job.
func PodSelector(jobName string) string { return LabelJobName + "=" + jobName }

// CacheName is the last component of every cache repository.
const CacheName = "buildcache"

// CacheRepository is the repository of a user's build cache, inside their
// own repositories.
func CacheRepository(user string) string { return user + "/" + CacheName }

// IsCache reports whether repo is a user's build cache, <user>/buildcache:
// the listings hide it unless asked for all, and no build targets it.
func IsCache(repo string) bool {
	user, last, ok := strings.Cut(repo, "/")
	return ok && user != "" && last == CacheName
}
