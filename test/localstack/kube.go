package localstack

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Kube is a running control plane: etcd, kube-apiserver (RBAC on),
// kube-controller-manager (the Job controller and the garbage collector) and
// kube-scheduler. It has no node unless one is added.
type Kube struct {
	Dir        string
	Server     string // https://127.0.0.1:<port>
	Kubeconfig string // admin kubeconfig YAML
	Client     kubernetes.Interface
	Config     *rest.Config
	procs      []*proc
	// api restarts the API server: its process (one of procs), binary,
	// arguments and token.
	api              *proc
	apiBin, apiToken string
	apiArgs          []string
	node             *proc  // the local node, once started
	transfer         string // the transfer binary the nodes run, once built
}

// StartKube starts the control plane with its files under dir and creates
// namespace ns. Stop it with Stop.
func StartKube(ctx context.Context, tools Tools, dir, ns string) (*Kube, error) {
	if err := tools.Check(); err != nil {
		return nil, err
	}
	k := &Kube{Dir: dir}
	if err := k.start(ctx, tools, ns); err != nil {
		k.Stop()
		return nil, err
	}
	return k, nil
}

func (k *Kube) start(ctx context.Context, tools Tools, ns string) error {
	dir := k.Dir
	ports, err := freePorts(5)
	if err != nil {
		return err
	}
	etcdPort, peerPort, apiPort, kcmPort, schedPort := ports[0], ports[1], ports[2], ports[3], ports[4]

	token, err := randomHex(16)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "tokens.csv"), []byte(token+",admin,admin-uid,system:masters\n"), 0o600); err != nil {
		return err
	}
	saKey := filepath.Join(dir, "sa.key")
	if err := writeRSAKey(saKey); err != nil {
		return err
	}

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	etcd, err := start(dir, "etcd", "etcd",
		"--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--initial-advertise-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--initial-cluster", "default=http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--unsafe-no-fsync", "--log-level", "warn")
	if err != nil {
		return err
	}
	k.procs = append(k.procs, etcd)
	wait, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := etcd.waitHTTP(wait, etcdURL+"/health", nil, func(s int) bool { return s == 200 }); err != nil {
		return err
	}

	certDir := filepath.Join(dir, "certs")
	k.apiBin, k.apiToken = tools.kube("kube-apiserver"), token
	k.apiArgs = []string{
		"--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(apiPort),
		"--cert-dir", certDir,
		"--token-auth-file", filepath.Join(dir, "tokens.csv"),
		"--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file", saKey,
		"--service-account-signing-key-file", saKey,
		"--service-cluster-ip-range", "10.96.0.0/16",
		// A loopback advertise address is refused by the endpoint
		// reconciler; this control plane needs no kubernetes Endpoints.
		"--endpoint-reconciler-type", "none",
		"--allow-privileged",
		// The local node (StartNode) serves pod logs on 127.0.0.1.
		"--kubelet-preferred-address-types", "InternalIP",
		"--enable-priority-and-fairness=false",
		// A pod whose node is lost is taken away 5 s after the node is
		// found unreachable, not 300 s, for the failure tests' sake.
		"--default-not-ready-toleration-seconds=5",
		"--default-unreachable-toleration-seconds=5",
		"--profiling=false"}
	k.Server = "https://127.0.0.1:" + strconv.Itoa(apiPort)
	wait2, cancel2 := context.WithTimeout(ctx, 120*time.Second)
	defer cancel2()
	if err := k.startAPI(wait2); err != nil {
		return err
	}

	k.Kubeconfig = Kubeconfig(k.Server, token)
	kcPath := filepath.Join(dir, "admin.kubeconfig")
	if err := os.WriteFile(kcPath, []byte(k.Kubeconfig), 0o600); err != nil {
		return err
	}
	k.Config, err = clientcmd.RESTConfigFromKubeConfig([]byte(k.Kubeconfig))
	if err != nil {
		return err
	}
	k.Config.QPS, k.Config.Burst = 500, 1000
	if k.Client, err = kubernetes.NewForConfig(k.Config); err != nil {
		return err
	}

	kcm, err := start(dir, "kube-controller-manager", tools.kube("kube-controller-manager"),
		"--kubeconfig", kcPath,
		"--authentication-kubeconfig", kcPath, "--authorization-kubeconfig", kcPath,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(kcmPort),
		"--leader-elect=false",
		"--service-account-private-key-file", saKey,
		"--root-ca-file", filepath.Join(certDir, "apiserver.crt"),
		"--use-service-account-credentials=false",
		"--kube-api-qps=200", "--kube-api-burst=400",
		"--concurrent-gc-syncs=20",
		// A node is found unreachable 20 s after its last lease renewal
		// (the local node renews every 10 s), not 50 s.
		"--node-monitor-grace-period=20s", "--node-monitor-period=2s",
		"--profiling=false")
	if err != nil {
		return err
	}
	k.procs = append(k.procs, kcm)
	sched, err := start(dir, "kube-scheduler", tools.kube("kube-scheduler"),
		"--kubeconfig", kcPath,
		"--authentication-kubeconfig", kcPath, "--authorization-kubeconfig", kcPath,
		"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(schedPort),
		"--leader-elect=false",
		"--profiling=false")
	if err != nil {
		return err
	}
	k.procs = append(k.procs, sched)
	for _, p := range []struct {
		p    *proc
		port int
	}{{kcm, kcmPort}, {sched, schedPort}} {
		if err := p.p.waitHTTP(wait2, fmt.Sprintf("https://127.0.0.1:%d/healthz", p.port), nil, func(s int) bool { return s == 200 }); err != nil {
			return err
		}
	}
	return k.ensureNamespace(wait2, ns)
}

// startAPI starts the API server and waits until it is ready.
func (k *Kube) startAPI(ctx context.Context) error {
	api, err := start(k.Dir, "kube-apiserver", k.apiBin, k.apiArgs...)
	if err != nil {
		return err
	}
	k.api = api
	k.procs = append(k.procs, api)
	return api.waitHTTP(ctx, k.Server+"/readyz", http.Header{"Authorization": {"Bearer " + k.apiToken}}, func(s int) bool { return s == 200 })
}

// RestartAPIServer stops the API server by its PID and starts it again,
// on its address, with its storage: an API server restarted under its
// clients, as an upgrade does. It returns once the server is ready.
func (k *Kube) RestartAPIServer(ctx context.Context) error {
	k.api.stop()
	k.forget(k.api)
	wait, cancel := context.WithTimeout(ctx, 120*time.Second)
	defer cancel()
	return k.startAPI(wait)
}

// ensureNamespace creates ns and waits for its default ServiceAccount,
// without which the API server admits no pod.
func (k *Kube) ensureNamespace(ctx context.Context, ns string) error {
	_, err := k.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	for {
		_, err := k.Client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("namespace %s has no default ServiceAccount: %w", ns, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops every server by PID, newest first.
func (k *Kube) Stop() {
	for i := len(k.procs) - 1; i >= 0; i-- {
		k.procs[i].stop()
	}
	k.procs = nil
}

// PIDs of the running servers.
func (k *Kube) PIDs() []int {
	var pids []int
	for _, p := range k.procs {
		pids = append(pids, p.cmd.Process.Pid)
	}
	return pids
}

// Kubeconfig is a kubeconfig for server with a bearer token. The local API
// server's certificate is self-signed, so TLS is not verified.
func Kubeconfig(server, token string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: %s
    insecure-skip-tls-verify: true
users:
- name: user
  user:
    token: %s
contexts:
- name: local
  context:
    cluster: local
    user: user
current-context: local
`, server, token)
}

// ServiceAccountKubeconfig returns a kubeconfig with a fresh token of
// ServiceAccount ns/name (TokenRequest API), valid for an hour.
func (k *Kube) ServiceAccountKubeconfig(ctx context.Context, ns, name string) (string, error) {
	exp := int64(3600)
	tr, err := k.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for %s/%s: %w", ns, name, err)
	}
	return Kubeconfig(k.Server, tr.Status.Token), nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

func writeRSAKey(path string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	b := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return os.WriteFile(path, b, 0o600)
}
