package engine

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/berth-dev/berth/image/importer"
)

// The infra container runs berth-init with no arguments: it waits for
// SIGTERM or SIGINT and reaps, the pause role. No image is needed: the
// engine makes a one-layer image of the binary itself, as Podman makes
// localhost/podman-pause from catatonit, tagged with the binary's digest
// so that a new berth-init gets a new image and an unchanged one is
// made once per engine root.
const pauseRepo = "localhost/berth-pause"

// pauseImage returns the name of the infra image, making it when this
// berth-init has none yet.
func (e *Engine) pauseImage(ctx context.Context) (string, error) {
	bin, err := e.initBinary()
	if err != nil {
		return "", fmt.Errorf("infra container: %w", err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("infra container: %w", err)
	}
	sum := sha256.Sum256(data)
	ref := pauseRepo + ":" + hex.EncodeToString(sum[:])[:12]
	if _, err := e.Images().Resolve(ref); err == nil {
		return ref, nil
	} else if !errors.Is(err, ErrImageNotFound) {
		return "", err
	}
	fi, err := os.Stat(bin)
	if err != nil {
		return "", fmt.Errorf("infra container: %w", err)
	}
	layer, err := pauseLayer(data)
	if err != nil {
		return "", fmt.Errorf("infra image: %w", err)
	}
	// The binary's time, not now: the same binary makes the same image.
	opts := importer.Options{Changes: []string{`ENTRYPOINT ["/pause"]`, `STOPSIGNAL SIGTERM`},
		Message: "berth pod infra (berth-init)", Source: bin, Now: fi.ModTime().UTC()}
	if _, err := e.ImportImage(ctx, layer, ref, opts); err != nil {
		return "", fmt.Errorf("infra image: %w", err)
	}
	return ref, nil
}

// pauseLayer is the infra's root filesystem: /pause, the mount points
// the runtime binds over, and the files a container's spec reads.
func pauseLayer(bin []byte) (io.Reader, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"dev/", "proc/", "sys/", "etc/", "run/", "tmp/"} {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode}); err != nil {
			return nil, err
		}
	}
	files := []struct {
		name string
		mode int64
		data []byte
	}{
		{"etc/passwd", 0o644, []byte("root:x:0:0:root:/:/pause\n")},
		{"etc/group", 0o644, []byte("root:x:0:\n")},
		{"etc/hosts", 0o644, nil}, {"etc/resolv.conf", 0o644, nil}, {"etc/hostname", 0o644, nil},
		{"pause", 0o755, bin},
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}
