package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// materialize writes the container's volumes under dir and returns mount
// path → host path. ConfigMaps and Secrets are waited for, as a kubelet
// waits to mount them, unless optional.
func (p *Provider) materialize(ctx context.Context, pod *corev1.Pod, c corev1.Container, dir string) (map[string]string, error) {
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Spec.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		v, ok := volumes[m.Name]
		if !ok {
			return nil, fmt.Errorf("volume %q is not in the pod", m.Name)
		}
		host := filepath.Join(dir, "volumes", m.Name)
		if err := os.MkdirAll(host, 0o755); err != nil {
			return nil, err
		}
		var files map[string][]byte
		var items []corev1.KeyToPath
		var err error
		switch {
		case v.EmptyDir != nil:
		case v.ConfigMap != nil:
			items = v.ConfigMap.Items
			files, err = waitFor(ctx, v.ConfigMap.Optional, func() (map[string][]byte, error) {
				cm, err := p.cms.ConfigMaps(pod.Namespace).Get(v.ConfigMap.Name)
				if err != nil {
					return nil, err
				}
				out := map[string][]byte{}
				for k, s := range cm.Data {
					out[k] = []byte(s)
				}
				for k, b := range cm.BinaryData {
					out[k] = b
				}
				return out, nil
			})
		case v.Secret != nil:
			items = v.Secret.Items
			files, err = waitFor(ctx, v.Secret.Optional, func() (map[string][]byte, error) {
				s, err := p.secrets.Secrets(pod.Namespace).Get(v.Secret.SecretName)
				if err != nil {
					return nil, err
				}
				return s.Data, nil
			})
		default:
			return nil, fmt.Errorf("volume %q: only configMap, secret and emptyDir volumes run here", m.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", m.Name, err)
		}
		if err := writeVolume(host, files, items); err != nil {
			return nil, err
		}
		mounts[m.MountPath] = host
	}
	return mounts, nil
}

func waitFor(ctx context.Context, optional *bool, get func() (map[string][]byte, error)) (map[string][]byte, error) {
	for {
		files, err := get()
		if err == nil {
			return files, nil
		}
		if !apierrors.IsNotFound(err) {
			return nil, err
		}
		if optional != nil && *optional {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// writeVolume writes files (all of them, or the items' keys to their paths).
func writeVolume(dir string, files map[string][]byte, items []corev1.KeyToPath) error {
	if len(items) == 0 {
		for k := range files {
			items = append(items, corev1.KeyToPath{Key: k, Path: k})
		}
	}
	for _, it := range items {
		data, ok := files[it.Key]
		if !ok {
			continue
		}
		target := filepath.Join(dir, filepath.Clean("/"+it.Path))
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(target, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
