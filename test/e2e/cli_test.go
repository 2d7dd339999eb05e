//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/apache/openserverless-builder/test/whiskfake"
)

// TestCLI runs the builder command as a user would, against an OpenWhisk
// API that serves the zips on the local stack: send --follow builds for
// real, and a failing build exits non-zero.
func TestCLI(t *testing.T) {
	python, _ := bases(t)
	bin := builderCommand(t)

	api := whiskfake.New(filepath.Join(stack.root, "build"), bound(), map[string]string{"uuid-cli:key": "cliuser"})
	defer api.Close()
	home := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(home, ".wskprops"), []byte("APIHOST="+api.URL+"\nAUTH=uuid-cli:key\nNAMESPACE=cliuser\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(home, "requirements.txt"), []byte("beautifulsoup4\nsetuptools\n"), 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(home, "broken"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(home, "broken", "requirements.txt"), []byte("no-such-package\n"), 0o600))

	cli := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"HOME=" + home}
		cmd.Dir = home
		return runCommand(t, cmd)
	}

	code, out := cli("send", "--source", python, "--target", "cliuser:cli", "--requirements", "requirements.txt", "--follow")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "succeeded")
	assert.Contains(t, out, "DIGEST")

	code, out = cli("list-images", "--catalog", "cliuser")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "cli")

	code, out = cli("send", "--source", python, "--target", "cliuser:cli-broken", "--requirements", "broken/requirements.txt", "--follow")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "No matching distribution found for no-such-package")
	assert.Contains(t, out, "the build failed")

	code, out = cli("logs", "--tail", "3")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "failed")
}

// builderCommand builds the builder command from the tree and returns its
// path.
func builderCommand(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "builder")
	build := exec.Command("go", "build", "-o", bin, "./cmd/builder")
	build.Dir = stack.root
	built, err := build.CombinedOutput()
	require.NoError(t, err, "%s", built)
	return bin
}

// runCommand runs cmd to its end: its exit code, and its output, stdout
// and stderr together.
func runCommand(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if exit, ok := err.(*exec.ExitError); ok {
		return exit.ExitCode(), out.String()
	}
	require.NoError(t, err)
	return 0, out.String()
}
