package localstack

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Registry is a running CNCF distribution registry with htpasswd auth.
type Registry struct {
	Host     string // 127.0.0.1:<port>
	User     string
	Password string
	Dir      string
	proc     *proc
	// bin, config and up restart it: its binary, its configuration, and
	// the status /v2/ answers once it serves.
	bin, config string
	up          int
}

// RegistryOptions configure StartRegistry.
type RegistryOptions struct {
	// DeleteDisabled turns manifest deletion off, as some registries run.
	DeleteDisabled bool
	// Anonymous serves everyone without credentials, as a pull-through
	// mirror of a public registry does.
	Anonymous bool
}

// StartRegistry starts the registry with its storage under dir, which it
// makes if need be.
func StartRegistry(ctx context.Context, tools Tools, dir string, o RegistryOptions) (*Registry, error) {
	if err := tools.Check(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	pass, err := randomHex(12)
	if err != nil {
		return nil, err
	}
	r := &Registry{Host: "127.0.0.1:" + strconv.Itoa(port), User: "builder", Password: pass, Dir: dir}
	auth, up := "", http.StatusOK
	if o.Anonymous {
		r.User, r.Password = "", ""
	} else {
		hash, err := bcrypt.GenerateFromPassword([]byte(pass), bcrypt.MinCost)
		if err != nil {
			return nil, err
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, []byte(r.User+":"+string(hash)+"\n"), 0o600); err != nil {
			return nil, err
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: openserverless-builder-test\n    path: %s\n", htpasswd)
		up = http.StatusUnauthorized
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: %t
http:
  addr: %s
%s`, filepath.Join(dir, "storage"), !o.DeleteDisabled, r.Host, auth)
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	r.bin, r.config, r.up = tools.registry(), cfgPath, up
	if err := r.Start(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Start starts the registry process, on its address and storage: at
// first, and again after Stop, as a registry that went down comes back.
func (r *Registry) Start(ctx context.Context) error {
	var err error
	if r.proc, err = start(r.Dir, "registry", r.bin, "serve", r.config); err != nil {
		return err
	}
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// Up when /v2/ answers (asking for credentials unless anonymous).
	if err := r.proc.waitHTTP(wait, "http://"+r.Host+"/v2/", nil, func(s int) bool { return s == r.up }); err != nil {
		r.Stop()
		return err
	}
	return nil
}

// Stop stops the registry by PID.
func (r *Registry) Stop() { r.proc.stop() }

// PID of the registry.
func (r *Registry) PID() int { return r.proc.cmd.Process.Pid }

// GarbageCollect runs the registry's garbage collection over its storage,
// as an operator does to reclaim the space of deleted images. The registry
// should be stopped or read-only while it runs.
func (r *Registry) GarbageCollect(ctx context.Context, tools Tools) (string, error) {
	out, err := execOutput(ctx, tools.registry(), "garbage-collect", filepath.Join(r.Dir, "config.yml"))
	return out, err
}
