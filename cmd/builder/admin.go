package main

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"
	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/apache/openserverless-builder/cmd/builder/admin"
)

// adminFlags are what every admin command takes: the operator's
// kubeconfig, beside the OpenWhisk credentials of the root command.
type adminFlags struct {
	kubeconfig, context string
	manifest            string
	dryRun              bool
	timeout             time.Duration
}

func (f *adminFlags) bind(cmd *cobra.Command, manifest bool) {
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "the operator's kubeconfig (default: $KUBECONFIG, then ~/.kube/config)")
	cmd.Flags().StringVar(&f.context, "context", "", "the kubeconfig context (default: its current one)")
	cmd.Flags().DurationVar(&f.timeout, "request-timeout", 30*time.Second, "how long one request to the Kubernetes API may take")
	if manifest {
		cmd.Flags().StringVar(&f.manifest, "manifest", "manifest.yaml", "the package's manifest; the zips it names (make build) are read beside it")
	}
}

// connect opens the cluster with the operator's kubeconfig and OpenWhisk
// with the admin's credentials, in the package's namespace.
func (c *cli) connectAdmin(f adminFlags) (*admin.Cluster, *admin.Whisk, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = f.kubeconfig
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.context}).ClientConfig()
	if err != nil {
		return nil, nil, fmt.Errorf("--kubeconfig: %w", err)
	}
	// client-go's default of 5 requests a second would make a doctor run
	// (a dry run per object, a review per right) wait on the client.
	cfg.QPS, cfg.Burst = 50, 100
	// An API server that stops answering fails the command, naming what
	// it was doing, instead of holding it forever.
	cfg.Timeout = f.timeout
	cluster, err := admin.NewCluster(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("--kubeconfig: %w", err)
	}
	base, err := whisk.GetUrlBase(c.s.APIHost)
	if err != nil {
		return nil, nil, fmt.Errorf("--apihost %q: %w", c.s.APIHost, err)
	}
	hc := &http.Client{Timeout: 5 * time.Minute}
	if c.s.Insecure {
		hc.Transport = insecureTransport()
	}
	client := func(ns string) (*whisk.Client, error) {
		return whisk.NewClient(hc, &whisk.Config{Host: c.s.APIHost, BaseURL: base, AuthToken: c.s.Auth, Namespace: ns,
			Version: "v1", Insecure: c.s.Insecure, UserAgent: "openserverless-builder-admin"})
	}
	w := &admin.Whisk{Auth: c.s.Auth, Namespace: c.s.PackageNamespace}
	if w.Client, err = client(c.s.PackageNamespace); err != nil {
		return nil, nil, err
	}
	if w.System, err = client("whisk.system"); err != nil {
		return nil, nil, err
	}
	return cluster, w, nil
}

// adminCommand is `builder admin`: install (upgrade), uninstall, doctor.
func (c *cli) adminCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "install, upgrade, check and remove the builder (operators)",
		Long: "Operators' commands, with the operator's kubeconfig and an admin's OpenWhisk credentials\n" +
			"(of the package's namespace, nuvolaris). Run them from the repository after `make build`.",
	}
	cmd.AddCommand(c.installCommand(), c.uninstallCommand(), c.adminDoctorCommand())
	return cmd
}

func (c *cli) installCommand() *cobra.Command {
	var f adminFlags
	v := admin.Defaults()
	for env, field := range map[string]*string{"BUILDER_BUILDKIT_IMAGE": &v.BuildkitImage, "BUILDER_TRANSFER_IMAGE": &v.TransferImage, "BUILDER_REGISTRY_SECRET": &v.RegistrySecret} {
		if s := c.getenv(env); s != "" {
			*field = s
		}
	}
	v.Privileged = c.getenv("BUILDER_BUILDKIT_PRIVILEGED") == "true"
	cmd := &cobra.Command{
		Use:     "install [--dry-run] [--buildkit-image REF] [--transfer-image REF] ...",
		Aliases: []string{"upgrade"},
		Short:   "create or update everything the builder needs, in order (again: upgrade)",
		Long: "install creates or updates, idempotently: the objects of deploy/ (namespaces, ServiceAccount,\n" +
			"Roles, bindings, admission policies, NetworkPolicy; server-side apply, field manager\n" +
			"openserverless-builder), the push Secret in the build namespace, the builder's kubeconfig,\n" +
			"the package of the manifest with its actions, trigger and rule, and buildkitd.toml when there\n" +
			"is none. Images are pinned by the digests it resolves; the policy and the package get the\n" +
			"same values. Every value is checked before anything changes. Builds, records, indexes,\n" +
			"caches and images are never touched.",
		Example: "  builder admin install --dry-run\n  builder admin install --pod-cidr 10.244.0.0/16 --service-cidr 10.96.0.0/12 --node-cidr 192.168.49.0/24",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cluster, w, err := c.connectAdmin(f)
			if err != nil {
				return err
			}
			in := &admin.Installer{Cluster: cluster, Whisk: w, Values: v, Manifest: f.manifest, DryRun: f.dryRun, Out: c.out}
			return in.Install(cmd.Context())
		},
	}
	f.bind(cmd, true)
	fl := cmd.Flags()
	fl.BoolVar(&f.dryRun, "dry-run", false, "print what would change, change nothing")
	fl.StringVar(&v.BuildkitImage, "buildkit-image", v.BuildkitImage, "BuildKit image; pinned by its digest (give REF@sha256:... where the registry cannot be reached)")
	fl.StringVar(&v.TransferImage, "transfer-image", v.TransferImage, "transfer image (cmd/transfer) of the fetch and push steps; pinned likewise")
	fl.StringVar(&v.RegistrySecret, "registry-secret", v.RegistrySecret, "the registry's dockerconfigjson Secret in nuvolaris, copied to the build namespace")
	fl.BoolVar(&v.Privileged, "buildkit-privileged", v.Privileged, "run BuildKit privileged where rootless cannot create user namespaces")
	fl.StringVar(&v.APIServer, "api-server", v.APIServer, "the Kubernetes API as the actions reach it, for the builder's kubeconfig")
	fl.StringVar(&v.PodCIDR, "pod-cidr", v.PodCIDR, "the cluster's pod range, which builds may not reach")
	fl.StringVar(&v.ServiceCIDR, "service-cidr", v.ServiceCIDR, "the cluster's service range")
	fl.StringVar(&v.NodeCIDR, "node-cidr", v.NodeCIDR, "the nodes' range")
	fl.StringVar(&v.LinkLocalCIDR, "link-local-cidr", v.LinkLocalCIDR, "link-local addresses (the metadata address among them)")
	fl.StringSliceVar(&v.PrivateCIDRs, "private-cidrs", v.PrivateCIDRs, "private ranges builds may not reach")
	fl.StringVar(&v.RegistryNamespace, "registry-namespace", v.RegistryNamespace, "namespace of the registry's pods")
	fl.StringVar(&v.RegistryApp, "registry-app", v.RegistryApp, "app label of the registry's pods")
	fl.IntVar(&v.RegistryPort, "registry-port", v.RegistryPort, "the registry pods' port")
	return cmd
}

func (c *cli) uninstallCommand() *cobra.Command {
	var f adminFlags
	var purge bool
	v := admin.Defaults()
	if s := c.getenv("BUILDER_REGISTRY_SECRET"); s != "" {
		v.RegistrySecret = s
	}
	cmd := &cobra.Command{
		Use:   "uninstall [--purge] [--dry-run]",
		Short: "remove what install created; keep users' images and (without --purge) their builds",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cluster, w, err := c.connectAdmin(f)
			if err != nil {
				return err
			}
			u := &admin.Uninstaller{Cluster: cluster, Whisk: w, Values: v, Manifest: f.manifest, Purge: purge, DryRun: f.dryRun, Out: c.out}
			return u.Uninstall(cmd.Context())
		},
	}
	f.bind(cmd, true)
	cmd.Flags().BoolVar(&f.dryRun, "dry-run", false, "print what would be removed, remove nothing")
	cmd.Flags().BoolVar(&purge, "purge", false, "remove the build namespace too, with every build's Job, record, index and log")
	cmd.Flags().StringVar(&v.RegistrySecret, "registry-secret", v.RegistrySecret, "the registry Secret install copied to the build namespace")
	return cmd
}

func (c *cli) adminDoctorCommand() *cobra.Command {
	var f adminFlags
	d := &admin.Doctor{}
	cmd := &cobra.Command{
		Use:     "doctor [--source IMAGE --kind KIND]",
		Short:   "check the deployment end to end; each failed check says its fix",
		Example: "  builder admin doctor --source apache/openserverless-runtime-python:v3.13-2506091954 --kind python",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cluster, w, err := c.connectAdmin(f)
			if err != nil {
				return err
			}
			d.Cluster, d.Whisk, d.Out = cluster, w, c.out
			if d.Source != "" && d.Kind == "" {
				return usageError{"--kind is required with --source"}
			}
			err = d.Run(cmd.Context())
			if errors.Is(err, admin.ErrChecksFailed) {
				return errors.New("some checks failed: see their fixes above")
			}
			return err
		},
	}
	f.bind(cmd, false)
	cmd.Flags().StringVar(&d.Source, "source", "", "a runtime image to build from, for the build check (none: skipped)")
	cmd.Flags().StringVar(&d.Kind, "kind", "", "its kind")
	cmd.Flags().DurationVar(&d.BuildTimeout, "build-timeout", 10*time.Minute, "how long the build may take")
	return cmd
}

// doctorCommand is the user's short check: the builder answers them, as
// them, and reaches Kubernetes and the registry on their behalf.
func (c *cli) doctorCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "doctor",
		Short: "check that the builder answers you (operators: builder admin doctor)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			failed := 0
			for _, chk := range []struct{ action, method, name string }{
				{"capabilities", http.MethodGet, "the builder answers you (capabilities)"},
				{"builds", http.MethodGet, "your builds can be listed (builds)"},
				{"list-catalogs", http.MethodGet, "your repositories can be listed (list-catalogs)"},
			} {
				if _, err := c.caller.call(cmd.Context(), chk.action, chk.method, map[string]any{}); err != nil {
					failed++
					fmt.Fprintf(c.out, "FAIL  %s: %v\n      fix: check APIHOST and AUTH of ~/.wskprops (ops -login); if they are right, ask your operator to run `builder admin doctor`\n", chk.name, err)
					continue
				}
				fmt.Fprintf(c.out, "ok    %s\n", chk.name)
			}
			if failed > 0 {
				return errors.New("some checks failed: see their fixes above")
			}
			return nil
		},
	}
}
