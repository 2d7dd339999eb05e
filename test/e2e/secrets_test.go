//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/apache/openserverless-builder/shared/names"
	"github.com/apache/openserverless-builder/shared/types"
	"github.com/apache/openserverless-builder/test/invoker"
	"github.com/apache/openserverless-builder/test/localstack"
)

// privateCase is one kind's private index and how a build reaches it.
type privateCase struct {
	name, user, kind string
	source           func(t *testing.T) string
	// file is the requirements file; with are the build secrets that
	// reach the index, without those of a build that lacks the credential
	// (nil: none at all).
	file          string
	with, without map[string]string
	refusal       string // what the build without says, in logs
	// probe are the files of a probe image FROM the built one, whose
	// build prints want; nothing is the probe's requirements file.
	probe         map[string]string
	nothing, want string
	// inImage are paths the built image holds (and notInImage, not).
	inImage, notInImage []string
}

// TestBuildSecretsReachPrivateIndexes (#36, part 3): for each kind, an
// index on 127.0.0.1 that refuses requests without its credential: pip
// with basic auth (pip.conf), npm with a bearer token (.npmrc), composer
// with http-basic (auth.json), Maven with a server of settings.xml, a Go
// module proxy behind a .netrc (over HTTPS, which the source image
// trusts, as the go command sends credentials over HTTPS alone). Without
// the credential the build fails with the index's refusal; with it the
// build succeeds, and a probe build FROM the image loads the package at
// the version the file pins, below the index's latest.
//
// The credential is then searched for, and not found, in the image's
// layers, config and manifest and in the build cache's; in the Job and
// pod specs; in every ConfigMap of the build namespace, the build's
// record and log among them; in what send, logs and builds answered; and
// in the actions' own output. The build's Secret goes with its Job.
func TestBuildSecretsReachPrivateIndexes(t *testing.T) {
	id, err := names.NewID()
	require.NoError(t, err)
	token := "osbtok" + id // what must appear nowhere

	pyIndex, err := localstack.StartPythonIndex(
		localstack.Wheel{Name: "osbsecret", Version: "1.0", Source: "def hello():\n    return 'osbsecret 1.0 loaded'\n"},
		localstack.Wheel{Name: "osbsecret", Version: "2.0", Source: "def hello():\n    return 'osbsecret 2.0 loaded'\n"})
	require.NoError(t, err)
	t.Cleanup(pyIndex.Close)
	pyIndex.Require(localstack.BasicAuth("osb", token))
	withCredential := strings.Replace(pyIndex.URL, "http://", "http://osb:"+token+"@", 1)

	npm, err := localstack.StartNpmRegistry(
		localstack.NpmPackage{Name: "osb-secret", Version: "1.0.0", Main: "module.exports = () => 'osb-secret 1.0.0 loaded';\n"},
		localstack.NpmPackage{Name: "osb-secret", Version: "2.0.0", Main: "module.exports = () => 'osb-secret 2.0.0 loaded';\n"})
	require.NoError(t, err)
	t.Cleanup(npm.Close)
	npm.Require(localstack.BearerToken(token))

	secretPHP := func(v string) localstack.ComposerPackage {
		return localstack.ComposerPackage{Name: "osb/secret", Version: v, Namespace: `Osb\Secret`,
			Files: map[string]string{"Hello.php": "<?php\nnamespace Osb\\Secret;\n\nclass Hello\n{\n    public static function hi(): string\n    {\n        return 'osb/secret " + v + " loaded';\n    }\n}\n"}}
	}
	composer, err := localstack.StartComposerRepository(secretPHP("1.0.0"), secretPHP("2.0.0"))
	require.NoError(t, err)
	t.Cleanup(composer.Close)
	composer.Require(localstack.BasicAuth("osb", token))
	composerHost := strings.TrimPrefix(composer.URL, "http://")

	maven, err := localstack.StartMavenRepository(localstack.DefaultTools().MavenRepository(),
		localstack.MavenArtifact{Group: "osb", Artifact: "secret", Version: "1.0.0", Class: "osb/secret/Hello", Method: "hello", Returns: "osb:secret 1.0.0 loaded"},
		localstack.MavenArtifact{Group: "osb", Artifact: "secret", Version: "2.0.0", Class: "osb/secret/Hello", Method: "hello", Returns: "osb:secret 2.0.0 loaded"})
	require.NoError(t, err)
	t.Cleanup(maven.Close)
	maven.Require(localstack.BasicAuth("osb", token))

	goproxy, err := localstack.StartGoProxy(
		localstack.GoModule{Path: "osb.test/secret", Version: "v1.0.0", Source: "package secret\n\nfunc Hi() string { return \"osb.test/secret v1.0.0 loaded\" }\n"},
		localstack.GoModule{Path: "osb.test/secret", Version: "v1.1.0", Source: "package secret\n\nfunc Hi() string { return \"osb.test/secret v1.1.0 loaded\" }\n"})
	require.NoError(t, err)
	t.Cleanup(goproxy.Close)
	goproxy.Require(localstack.BasicAuth("osb", token))
	goenv := "GOPROXY=" + goproxy.URL + "\nGONOSUMDB=osb.test\n"

	pom := `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>my</groupId><artifactId>action</artifactId><version>1.0.0</version>
  <repositories><repository><id>central</id><url>` + maven.URL + `</url></repository></repositories>
  <pluginRepositories><pluginRepository><id>central</id><url>` + maven.URL + `</url></pluginRepository></pluginRepositories>
  <dependencies><dependency><groupId>osb</groupId><artifactId>secret</artifactId><version>1.0.0</version></dependency></dependencies>
  <build><plugins><plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.5.0</version></plugin></plugins></build>
</project>`
	javaMain := "import com.google.gson.JsonObject;\n\npublic class Main {\n    public static JsonObject main(JsonObject args) {\n" +
		"        JsonObject out = new JsonObject();\n        out.addProperty(\"probe\", osb.secret.Hello.hello());\n        return out;\n    }\n}\n"

	cases := []privateCase{
		{name: "python v3.13", user: "secret-py", kind: "python",
			source: func(t *testing.T) string { return standIn(t, localstack.PythonV313()) },
			file:   "osbsecret==1.0\n",
			with:   map[string]string{"pip.conf": "[global]\nindex-url = " + withCredential + "\n"},
			// pip, unattended, reports an index that answers 401 as one
			// without the version.
			without: map[string]string{"pip.conf": "[global]\nindex-url = " + pyIndex.URL + "\n"},
			refusal: "No matching distribution found for osbsecret==1.0",
			probe: map[string]string{localstack.ExtendPath: pythonProbe,
				"/opt/probe/main.py": "import osbsecret\nprint('probe:', osbsecret.hello())\n"},
			nothing: "\n", want: "probe: osbsecret 1.0 loaded"},
		{name: "nodejs v26", user: "secret-node", kind: "nodejs",
			source:  func(t *testing.T) string { return standIn(t, localstack.NodejsV26()) },
			file:    `{"dependencies":{"osb-secret":"1.0.0"}}`,
			with:    map[string]string{"npmrc": "registry=" + npm.URL + "\n//" + npm.Host() + "/:_authToken=" + token + "\n"},
			without: map[string]string{"npmrc": "registry=" + npm.URL + "\n"},
			refusal: "npm error code E401",
			probe: map[string]string{localstack.ExtendPath: nodeProbe,
				"/opt/probe/index.js": "console.log('probe:', require('osb-secret')(), require('osb-secret/package.json').version);\n"},
			nothing: `{"dependencies": {}}`, want: "probe: osb-secret 1.0.0 loaded 1.0.0"},
		{name: "php v8.4", user: "secret-php", kind: "php",
			source: func(t *testing.T) string { return standIn(t, localstack.PhpV84()) },
			file: `{"require": {"php": ">=8.1", "osb/secret": "1.0.0"}, "repositories": [{"type": "composer", "url": "` + composer.URL +
				`"}, {"packagist.org": false}], "config": {"secure-http": false}}`,
			with:    map[string]string{"auth.json": `{"http-basic": {"` + composerHost + `": {"username": "osb", "password": "` + token + `"}}}`},
			refusal: "/packages.json' URL required authentication",
			probe: map[string]string{localstack.ExtendPath: php84Probe,
				"/opt/probe/index.php": "<?php\nrequire __DIR__ . '/vendor/autoload.php';\necho 'probe: ', \\Osb\\Secret\\Hello::hi(), \"\\n\";\n"},
			nothing: `{"require": {}}`, want: "probe: osb/secret 1.0.0 loaded"},
		{name: "java v25", user: "secret-java", kind: "java",
			source:  func(t *testing.T) string { return standIn(t, localstack.JavaV25()) },
			file:    pom,
			with:    map[string]string{"settings.xml": "<settings><servers><server><id>central</id><username>osb</username><password>" + token + "</password></server></servers></settings>"},
			refusal: "authentication failed for " + maven.URL,
			probe:   map[string]string{localstack.ExtendPath: javaProbe, "/opt/probe/Main.java": javaMain},
			nothing: `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion><groupId>probe</groupId><artifactId>probe</artifactId><version>1</version>` +
				`<build><plugins><plugin><groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId><version>3.5.0</version></plugin></plugins></build></project>`,
			want: `{"probe":"osb:secret 1.0.0 loaded"}`},
		{name: "go v1.25", user: "secret-go", kind: "go",
			source:  func(t *testing.T) string { return goTrusting(t, goproxy.CertificatePEM()) },
			file:    "module action\n\ngo 1.22\n\nrequire osb.test/secret v1.0.0\n",
			with:    map[string]string{"goenv": goenv, "netrc": "machine " + strings.TrimPrefix(goproxy.URL, "https://") + " login osb password " + token + "\n"},
			without: map[string]string{"goenv": goenv},
			refusal: "secret/@v/v1.0.0.mod: 401 Unauthorized",
			// The go runtime compiles at init, from the module cache: what
			// the probe checks is that the module is there, pinned.
			nothing:    "module probe\n\ngo 1.22\n",
			inImage:    []string{"home/go/pkg/mod/osb.test/secret@v1.0.0/secret.go"},
			notInImage: []string{"home/go/pkg/mod/osb.test/secret@v1.1.0/secret.go"}},
	}
	// After the kinds' parallel builds, before the indexes close.
	t.Cleanup(func() {
		for what, g := range map[string]*localstack.Gate{"pip": &pyIndex.Gate, "npm": &npm.Gate, "composer": &composer.Gate, "maven": &maven.Gate, "go": &goproxy.Gate} {
			assert.Positive(t, g.Refused(), "the %s index refused the build without its credential", what)
		}
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			source := tc.source(t)
			t.Parallel()
			tc.run(t, source, token)
		})
	}
}

// run builds with the secrets, then without (as another user: BuildKit
// does not count secrets in its cache keys, so the user's own cache would
// answer the install from the build with them), then a probe FROM the
// image; cleanjobs then turns the user's builds into records, and
// everything is searched for token.
func (tc privateCase) run(t *testing.T, source, token string) {
	ctx := context.Background()
	send := action(t, "send")
	logs := action(t, "logs")
	builds := action(t, "logs", map[string]any{"operation": "builds"})
	answers := map[string]string{}
	start := func(what, user string, params map[string]any, secrets map[string]string) (string, map[string]any) {
		if secrets != nil {
			enc := map[string]any{}
			for k, v := range secrets {
				enc[k] = base64.StdEncoding.EncodeToString([]byte(v))
			}
			params["secrets"] = enc
		}
		code, sent := call(t, send, invoker.Web("send", user, "POST", params))
		require.Equal(t, http.StatusOK, code, "%v", sent)
		answers["send "+what] = jsonText(sent)
		job := sent["job_name"].(string)
		st := waitDone(t, logs, user, job)
		answers["logs "+what] = jsonText(st)
		return job, st
	}

	job, st := start("with", tc.user, map[string]any{"source": source, "target": tc.user + "/custom:v1", "kind": tc.kind, "file": b64(tc.file)}, tc.with)
	require.Equal(t, types.Succeeded, st["status"], "%v", st["logs"])
	image := stack.registry.Host + "/" + tc.user + "/custom:v1"
	built, err := stack.kube.Client.BatchV1().Jobs(bns).Get(ctx, job, metav1.GetOptions{})
	require.NoError(t, err)
	answers["the Job"] = jsonText(built)
	pods, err := stack.kube.Client.CoreV1().Pods(bns).List(ctx, metav1.ListOptions{LabelSelector: "batch.kubernetes.io/job-name=" + job})
	require.NoError(t, err)
	require.NotEmpty(t, pods.Items)
	answers["the pods"] = jsonText(pods)
	secret, err := stack.kube.Client.CoreV1().Secrets(bns).Get(ctx, names.BuildSecretName(job), metav1.GetOptions{})
	require.NoError(t, err, "the build's secrets are its own Secret")
	assert.Equal(t, built.UID, secret.OwnerReferences[0].UID)
	fs := files(t, image)
	for _, p := range tc.inImage {
		assert.True(t, fs[p], "the image holds %s", p)
	}
	for _, p := range tc.notInImage {
		assert.False(t, fs[p], "the image does not hold %s", p)
	}

	other := tc.user + "-x"
	_, st = start("without", other, map[string]any{"source": source, "target": other + "/custom:v1", "kind": tc.kind, "file": b64(tc.file)}, tc.without)
	assert.Equal(t, types.Failed, st["status"])
	assert.Contains(t, st["logs"], tc.refusal, "the index's refusal, as the package manager reports it")

	probeSource := image
	if tc.probe != nil {
		probeSource = probeImage(t, image, tc.probe)
	}
	_, st = start("probe", tc.user, map[string]any{"source": probeSource, "target": tc.user + "/probe:v1", "kind": tc.kind, "file": b64(tc.nothing)}, nil)
	require.Equal(t, types.Succeeded, st["status"], "the probe: %v", st["logs"])
	assert.Contains(t, st["logs"], tc.want)

	// The user's cleanjobs turns their builds into records: the Secret
	// goes with the first's Job.
	code, cleaned := call(t, action(t, "cleanjobs"), invoker.Web("cleanjobs", tc.user, "POST", map[string]any{"max_age_hours": 0}))
	require.Equal(t, http.StatusOK, code, "%v", cleaned)
	require.Eventually(t, func() bool {
		_, err := stack.kube.Client.CoreV1().Secrets(bns).Get(ctx, names.BuildSecretName(job), metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}, time.Minute, 200*time.Millisecond, "the build's Secret goes with its Job")
	var recorded map[string]any
	record, err := stack.kube.Client.CoreV1().ConfigMaps(bns).Get(ctx, names.RecordName(job), metav1.GetOptions{})
	require.NoError(t, err, "the build is a record")
	answers["the record"] = jsonText(record)
	code, recorded = call(t, logs, invoker.Web("logs", tc.user, "GET", map[string]any{"job_name": job}))
	require.Equal(t, http.StatusOK, code, "%v", recorded)
	answers["logs of the record"] = jsonText(recorded)
	code, list := call(t, builds, invoker.Web("builds", tc.user, "GET", nil))
	require.Equal(t, http.StatusOK, code, "%v", list)
	answers["builds"] = jsonText(list)
	cms, err := stack.kube.Client.CoreV1().ConfigMaps(bns).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	answers["every ConfigMap"] = jsonText(cms)
	answers["send's output"], answers["logs' output"], answers["builds' output"] = send.Logs(), logs.Logs(), builds.Logs()

	for what, text := range answers {
		assert.NotContains(t, text, token, "%s holds the secret", what)
	}
	for _, ref := range []string{image, stack.registry.Host + "/" + names.CacheRepository(tc.user) + ":" + tc.kind} {
		assertImageHoldsNot(t, pulled(t, ref), token, ref)
	}
}

// assertImageHoldsNot: no layer, nor the config (history included) nor
// the manifest of img holds token.
func assertImageHoldsNot(t *testing.T, img v1.Image, token, ref string) {
	t.Helper()
	layers, err := img.Layers()
	require.NoError(t, err)
	for i, l := range layers {
		assert.False(t, bytes.Contains(uncompressed(t, l), []byte(token)), "%s: layer %d holds the secret", ref, i)
	}
	config, err := img.RawConfigFile()
	require.NoError(t, err)
	assert.NotContains(t, string(config), token, "%s: the config", ref)
	manifest, err := img.RawManifest()
	require.NoError(t, err)
	assert.NotContains(t, string(manifest), token, "%s: the manifest", ref)
}

// goTrusting is the go 1.25 stand-in, trusting cert (a private proxy's),
// as a cluster's runtime images trust its own CA.
func goTrusting(t *testing.T, cert []byte) string {
	t.Helper()
	bases(t) // buildkitd.toml
	goroot, err := localstack.GoRoot()
	require.NoError(t, err)
	v125, err := localstack.GoRuntimeV125(goroot)
	require.NoError(t, err)
	img, err := localstack.WithFiles(v125, map[string]string{"/etc/ssl/certs/ca-certificates.crt": string(cert)})
	require.NoError(t, err)
	id, err := names.NewID()
	require.NoError(t, err)
	ref := "runtimes/go-trusting:" + id
	push(t, stack.registry, img, ref)
	return stack.registry.Host + "/" + ref
}

// uncompressed is layer l's tar.
func uncompressed(t *testing.T, l v1.Layer) []byte {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	data, err := io.ReadAll(rc)
	require.NoError(t, err)
	return data
}
