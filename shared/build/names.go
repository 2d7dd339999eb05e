package build

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/params"
)

// Labels and annotations that mark the builder's objects. Selection is
// always by these labels, never by name.
const (
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	ManagedBy        = "openserverless-builder"
	LabelUser        = "builder.openserverless.apache.org/user"
	LabelBuildID     = "builder.openserverless.apache.org/build-id"
	AnnotationUser   = "builder.openserverless.apache.org/user"
	AnnotationTarget = "builder.openserverless.apache.org/target"
	AnnotationSource = "builder.openserverless.apache.org/source"
	// AnnotationSourceDigest is the digest the source was resolved to.
	AnnotationSourceDigest = "builder.openserverless.apache.org/source-digest"
	AnnotationKind         = "builder.openserverless.apache.org/kind"
	AnnotationImage        = "builder.openserverless.apache.org/image"
	// ContainerName is the build container (buildctl), whose log the logs
	// action reads.
	ContainerName = "build"
	// DaemonContainer is the buildkitd sidecar.
	DaemonContainer = "buildkitd"
)

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
// Every caller's name is lower case (identity folds it), so a cut label,
// which has upper-case letters, is never a whole name: no two users share a
// label. The selectors still check the full name in the user annotation.
func UserLabel(user string) string {
	user = strings.ToLower(user)
	if len(user) <= 63 {
		return user
	}
	sum := sha256.Sum256([]byte(user))
	return strings.TrimRight(user[:46], "._-") + "-" + strings.ToUpper(hex.EncodeToString(sum[:])[:16])
}

// JobName names the Job and the ConfigMap of a build: a DNS label of at most
// 63 characters for any user name.
func JobName(user, id string) string {
	part := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(user))
	// "build-" + part + "-" + id must fit 63.
	if max := 63 - len("build-") - 1 - len(id); len(part) > max {
		part = part[:max]
	}
	part = strings.Trim(part, "-")
	if part == "" {
		part = "user"
	}
	return "build-" + part + "-" + id
}

// UserSelector selects the builder's objects of one user; "" selects every
// user's.
func UserSelector(user string) string {
	s := LabelManagedBy + "=" + ManagedBy
	if user != "" {
		s += "," + LabelUser + "=" + UserLabel(user)
	}
	return s
}

// idRE is what a build id may be: NewID makes ten hex digits.
var idRE = regexp.MustCompile(`^[a-z0-9]{1,32}$`)

// BuildRef reads the build a request names: its job_name, or its id. Both
// are checked before they reach the API server: a job name must be a
// Kubernetes name (a DNS label), an id lower-case letters and digits.
// Either may be "" when the request names none.
func BuildRef(p params.Params) (jobName, id string, err error) {
	if jobName, err = p.String("job_name", ""); err != nil {
		return "", "", err
	}
	if id, err = p.String("id", ""); err != nil {
		return "", "", err
	}
	if jobName != "" && len(validation.IsDNS1123Label(jobName)) > 0 {
		return "", "", apperr.BadRequest("job_name %s is not a build's job name, such as build-devel-0123456789", quoteShort(jobName))
	}
	if id != "" && !idRE.MatchString(id) {
		return "", "", apperr.BadRequest("id %s is not a build id, such as 0123456789", quoteShort(id))
	}
	return jobName, id, nil
}
