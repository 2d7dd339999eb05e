// Command osb-node registers a Kubernetes node that runs the builder's build
// pods on this machine: for each pod it materializes the ConfigMap, Secret
// and emptyDir volumes, runs its steps in a kubelet's order with the local
// buildkitd, buildctl and transfer (their images cannot be pulled here),
// reports the pod's status from the real outcome and serves each
// container's log to the API server.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	var cfg Config
	var kubeconfig, name string
	var port int
	var cordoned bool
	flag.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the API server")
	flag.StringVar(&name, "name", "osb-node", "node name")
	flag.IntVar(&port, "port", 10250, "port of the kubelet API (logs), on 127.0.0.1")
	flag.StringVar(&cfg.Buildkitd, "buildkitd", "buildkitd", "buildkitd binary")
	flag.StringVar(&cfg.Buildctl, "buildctl", "buildctl", "buildctl binary")
	flag.StringVar(&cfg.Transfer, "transfer", "transfer", "transfer binary (cmd/transfer), which runs the transfer image's steps")
	flag.StringVar(&cfg.WorkDir, "workdir", "", "where pods' volumes, BuildKit state and logs go")
	flag.BoolVar(&cordoned, "cordoned", false, "register the node unschedulable: it runs no pod, and only keeps the cluster from having every node lost at once")
	flag.Parse()
	if err := run(kubeconfig, name, port, cordoned, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "osb-node:", err)
		os.Exit(1)
	}
}

func run(kubeconfig, name string, port int, cordoned bool, cfg Config) error {
	if cfg.WorkDir == "" {
		return fmt.Errorf("-workdir is required")
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	cert, err := selfSigned()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var provider *Provider
	mux := http.NewServeMux()
	n, err := nodeutil.NewNode(name, func(pc nodeutil.ProviderConfig) (nodeutil.Provider, node.NodeProvider, error) {
		provider = NewProvider(cfg, pc.ConfigMaps, pc.Secrets)
		describe(pc.Node, port)
		// Kubernetes takes no pod away from a lost node while every node
		// is lost (it takes that for its own disconnection): a second,
		// cordoned node is what lets a test lose one.
		pc.Node.Spec.Unschedulable = cordoned
		return provider, nil, nil
	},
		nodeutil.WithClient(client),
		func(c *nodeutil.NodeConfig) error {
			c.HTTPListenAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			c.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
			c.Handler = mux
			c.NumWorkers = 4
			return nil
		},
		nodeutil.AttachProviderRoutes(mux),
	)
	if err != nil {
		return err
	}
	defer provider.Close()
	go func() {
		if err := n.WaitReady(ctx, time.Minute); err == nil {
			fmt.Fprintf(os.Stderr, "osb-node: node %s ready\n", name)
		}
	}()
	if err := n.Run(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// describe sets what the scheduler and the API server need of the node.
func describe(n *corev1.Node, port int) {
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("16"),
		corev1.ResourceMemory: resource.MustParse("64Gi"),
		corev1.ResourcePods:   resource.MustParse("40"),
		// Build pods request ephemeral storage (build_disk).
		corev1.ResourceEphemeralStorage: resource.MustParse("500Gi"),
	}
	n.Status.Capacity = capacity
	n.Status.Allocatable = capacity
	n.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}}
	n.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	n.Status.NodeInfo = corev1.NodeSystemInfo{OperatingSystem: "linux", Architecture: "amd64", KubeletVersion: "osb-node"}
	n.Labels["kubernetes.io/os"] = "linux"
	n.Labels["kubernetes.io/arch"] = "amd64"
}

// selfSigned is the serving certificate of the kubelet API; the local API
// server does not verify it.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
