package image_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/berth-dev/berth/snapshot/archive"
	"github.com/berth-dev/berth/test/fixture"
)

// The interop tests run Berth's archives and registry traffic through
// independent clients (Debian's podman, skopeo and umoci, all built on
// containers/image or image-spec code, none on go-containerregistry) in
// both directions, on the fixture busybox image.

// needTools skips the test when one of the clients is not installed.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (Debian package %s, listed in hack/packages.txt)", tool, tool)
		}
	}
}

// toolEnv is the environment of podman and skopeo: a credentials file
// and a registries.conf of the test's own, so the host's never count.
func toolEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	auth, regs := filepath.Join(dir, "auth.json"), filepath.Join(dir, "registries.conf")
	if err := os.WriteFile(auth, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(regs, []byte("unqualified-search-registries = []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "REGISTRY_AUTH_FILE="+auth, "CONTAINERS_REGISTRIES_CONF="+regs)
}

// run runs a client and returns its stdout; stderr goes into the error.
func run(t *testing.T, env []string, tool string, args ...string) string {
	t.Helper()
	cmd := exec.Command(tool, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// skopeo runs skopeo with no signature policy and TLS off for the
// loopback registry.
func skopeo(t *testing.T, env []string, args ...string) string {
	t.Helper()
	return run(t, env, "skopeo", append([]string{"--insecure-policy"}, args...)...)
}

// newPodman returns a podman with its own storage, run and tmp dirs,
// removed with anything mounted below them when the test ends.
func newPodman(t *testing.T, env []string) func(args ...string) string {
	t.Helper()
	// podman refuses a runroot path longer than 50 characters, which
	// t.TempDir names are.
	base, err := os.MkdirTemp("", "berth-podman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		unmountBelow(t, base)
		os.RemoveAll(base)
	})
	global := []string{
		"--root", filepath.Join(base, "root"), "--runroot", filepath.Join(base, "run"),
		"--tmpdir", filepath.Join(base, "tmp"), "--storage-driver=overlay",
		"--cgroup-manager=cgroupfs", "--events-backend=file",
	}
	return func(args ...string) string {
		t.Helper()
		return run(t, env, "podman", append(append([]string{}, global...), args...)...)
	}
}

// unmountBelow detaches whatever is still mounted under dir (deepest
// first), so that the temporary dir can go.
func unmountBelow(t *testing.T, dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	lines := strings.Split(string(b), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		f := strings.Fields(lines[i])
		if len(f) > 4 && strings.HasPrefix(f[4], dir+"/") {
			t.Logf("podman left %s mounted", f[4])
			unix.Unmount(f[4], unix.MNT_DETACH)
		}
	}
}

// busybox is the fixture image in files: its rootfs, a docker-archive
// and an OCI layout tarball of it, both named ref, and its image ID.
type busybox struct {
	rootfs, dockerArchive, ociArchive, ref string
	id                                     v1.Hash
}

func newBusybox(t *testing.T, ref string) busybox {
	t.Helper()
	dir := t.TempDir()
	b := busybox{rootfs: filepath.Join(dir, "rootfs"), dockerArchive: filepath.Join(dir, "docker.tar"),
		ociArchive: filepath.Join(dir, "oci.tar"), ref: ref}
	if err := fixture.BusyboxRootfs(b.rootfs); err != nil {
		t.Fatal(err)
	}
	if err := fixture.DockerArchiveTar(b.rootfs, b.dockerArchive, ref); err != nil {
		t.Fatal(err)
	}
	if err := fixture.OCILayoutTar(b.rootfs, b.ociArchive, ref); err != nil {
		t.Fatal(err)
	}
	b.id = configDigest(t, b.image(t))
	return b
}

// image is the fixture as a go-containerregistry image.
func (b busybox) image(t *testing.T) v1.Image {
	t.Helper()
	tag, err := name.NewTag(b.ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(b.dockerArchive, &tag)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// ociImage is the fixture from its OCI layout tarball: OCI media types
// throughout, as an index needs.
func (b busybox) ociImage(t *testing.T) v1.Image {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	f, err := os.Open(b.ociArchive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := archive.Extract(f, dir, archive.Options{NoChown: true}); err != nil {
		t.Fatal(err)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 {
		t.Fatalf("fixture OCI layout: %v", err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func configDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// assertBusyboxTree checks that dir holds the fixture's busybox: the same
// binary, applets as hard links to it, the same /etc/passwd.
func (b busybox) assertBusyboxTree(t *testing.T, dir string) {
	t.Helper()
	for _, f := range []string{"bin/busybox", "etc/passwd"} {
		want, err := os.ReadFile(filepath.Join(b.rootfs, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("busybox rootfs: %v", err)
			continue
		}
		if sha256.Sum256(got) != sha256.Sum256(want) {
			t.Errorf("%s in %s differs from the fixture's", f, dir)
		}
	}
	bb, err1 := os.Stat(filepath.Join(dir, "bin/busybox"))
	sh, err2 := os.Stat(filepath.Join(dir, "bin/sh"))
	if err1 != nil || err2 != nil || !os.SameFile(bb, sh) {
		t.Errorf("bin/sh in %s is not a hard link to bin/busybox (%v, %v)", dir, err1, err2)
	}
}

// assertBusyboxLayers checks that the image ref of the berth root has the
// fixture's rootfs among its unpacked layers (the snapshot dirs).
func (b busybox) assertBusyboxLayers(t *testing.T, root, ref string) {
	t.Helper()
	s, e := openStore(t, root)
	defer e.Close()
	rec, err := s.Resolve(ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range rec.Layers {
		dir := s.Snapshots().Path(l.DiffID)
		if _, err := os.Lstat(filepath.Join(dir, "bin/busybox")); err == nil {
			b.assertBusyboxTree(t, dir)
			return
		}
	}
	t.Errorf("no unpacked layer of %s holds bin/busybox", ref)
}

// rawManifest is `skopeo inspect --raw` of a transport reference, parsed,
// with the digest of its bytes.
func rawManifest(t *testing.T, env []string, ref string, flags ...string) (v1.Hash, *v1.Manifest) {
	t.Helper()
	raw := skopeo(t, env, append(append([]string{"inspect", "--raw"}, flags...), ref)...)
	d, _, err := v1.SHA256(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.ParseManifest(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("skopeo inspect --raw %s: %v", ref, err)
	}
	return d, m
}

// diffIDsOf is rootfs.diff_ids of `skopeo inspect --config`.
func diffIDsOf(t *testing.T, env []string, ref string, flags ...string) []string {
	t.Helper()
	cf, err := v1.ParseConfigFile(strings.NewReader(skopeo(t, env, append(append([]string{"inspect", "--config"}, flags...), ref)...)))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range cf.RootFS.DiffIDs {
		out = append(out, d.String())
	}
	return out
}

// berthDiffIDs is the RootFS.Layers of `berth image inspect`.
func berthDiffIDs(t *testing.T, root, ref string) []string {
	t.Helper()
	return strings.Fields(mustBerth(t, root, "image", "inspect", "--format", "{{range .RootFS.Layers}}{{.}} {{end}}", ref))
}

// berthLine is one line of berth output, trimmed.
func berthLine(t *testing.T, root string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(mustBerth(t, root, args...))
}

// TestInteropBerthToOthers: what `berth save` writes, in each format, is
// read by podman, skopeo and umoci as the same image.
func TestInteropBerthToOthers(t *testing.T) {
	needTools(t, "podman", "skopeo", "umoci")
	env := toolEnv(t)
	bb := newBusybox(t, "localhost/interop/busybox:v1")
	root := t.TempDir()
	mustBerth(t, root, "load", "-i", bb.dockerArchive)
	dir := t.TempDir()
	tests := []struct {
		format string
		// ref is the image in the saved file as a containers/image
		// transport reference; podman loads it when load is set.
		ref  func(path string) string
		load bool
		// check is what else reads the file.
		check func(t *testing.T, path string)
	}{
		{"docker-archive", func(p string) string { return "docker-archive:" + p }, true, nil},
		{"oci-archive", func(p string) string { return "oci-archive:" + p }, true, nil},
		{"oci-dir", func(p string) string { return "oci:" + p + ":" + bb.ref }, false, func(t *testing.T, p string) {
			bundle := filepath.Join(t.TempDir(), "bundle")
			run(t, env, "umoci", "unpack", "--image", p+":"+bb.ref, bundle)
			bb.assertBusyboxTree(t, filepath.Join(bundle, "rootfs"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			path := filepath.Join(dir, tc.format)
			mustBerth(t, root, "save", "--format", tc.format, "-o", path, bb.ref)

			if _, m := rawManifest(t, env, tc.ref(path)); m.Config.Digest != bb.id {
				t.Errorf("skopeo reads config %s from the %s, want %s", m.Config.Digest, tc.format, bb.id)
			}
			if got, want := diffIDsOf(t, env, tc.ref(path)), berthDiffIDs(t, root, bb.ref); !slices.Equal(got, want) {
				t.Errorf("skopeo reads diffIDs %v, berth has %v", got, want)
			}
			if tc.load {
				podman := newPodman(t, env)
				if out := podman("load", "-q", "-i", path); !strings.Contains(out, "Loaded image: "+bb.ref) {
					t.Errorf("podman load of the %s said %q, want the name %s", tc.format, out, bb.ref)
				}
				want := bb.id.String() + " " + bb.ref
				if got := strings.TrimSpace(podman("images", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")); got != want {
					t.Errorf("podman images after load of the %s: %q, want %q", tc.format, got, want)
				}
			}
			if tc.check != nil {
				tc.check(t, path)
			}
		})
	}
}

// TestInteropOthersToBerth: what podman save and skopeo copy write is
// loaded by berth under the names they recorded, with their config
// digest, and unpacked to the busybox rootfs.
func TestInteropOthersToBerth(t *testing.T) {
	needTools(t, "podman", "skopeo")
	env := toolEnv(t)
	bb := newBusybox(t, "localhost/interop/busybox:v1")
	podman := newPodman(t, env)
	podman("load", "-q", "-i", bb.dockerArchive)
	src := "docker-archive:" + bb.dockerArchive
	dir := t.TempDir()
	tests := []struct {
		name string
		// write makes the file and returns its path and its transport
		// reference for skopeo.
		write func(path string) (string, string)
		// want is the name berth must record ("" for none).
		want string
	}{
		{"podman-save", func(p string) (string, string) {
			podman("save", "-q", "-o", p, bb.ref)
			return p, "docker-archive:" + p
		}, bb.ref},
		{"podman-save-oci-archive", func(p string) (string, string) {
			podman("save", "-q", "--format", "oci-archive", "-o", p, bb.ref)
			return p, "oci-archive:" + p
		}, bb.ref},
		{"podman-save-oci-dir", func(p string) (string, string) {
			podman("save", "-q", "--format", "oci-dir", "-o", p, bb.ref)
			return p, "oci:" + p
		}, bb.ref},
		{"skopeo-docker-archive", func(p string) (string, string) {
			skopeo(t, env, "copy", "-q", src, "docker-archive:"+p+":localhost/interop/skopeo:v3")
			return p, "docker-archive:" + p
		}, "localhost/interop/skopeo:v3"},
		{"skopeo-oci-named", func(p string) (string, string) {
			skopeo(t, env, "copy", "-q", src, "oci:"+p+":localhost/interop/skopeo:v2")
			return p, "oci:" + p + ":localhost/interop/skopeo:v2"
		}, "localhost/interop/skopeo:v2"},
		// A bare tag in ref.name is no image name: the image is loaded
		// unnamed, as docker load does.
		{"skopeo-oci-tag", func(p string) (string, string) {
			skopeo(t, env, "copy", "-q", src, "oci:"+p+":v1")
			return p, "oci:" + p + ":v1"
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path, ref := tc.write(filepath.Join(dir, tc.name))
			md, m := rawManifest(t, env, ref)
			id := m.Config.Digest
			if strings.HasPrefix(ref, "docker-archive:") && id != bb.id {
				t.Errorf("%s changed the image ID to %s, want %s", tc.name, id, bb.id)
			}
			root := t.TempDir()
			out := mustBerth(t, root, "load", "-i", path)
			wantOut := "Loaded image: " + tc.want
			if tc.want == "" {
				wantOut = "Loaded image ID: " + id.String()
			}
			if strings.TrimSpace(out) != wantOut {
				t.Errorf("berth load said %q, want %q", out, wantOut)
			}
			got := berthLine(t, root, "images", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
			want := tc.want + " " + id.String()
			if tc.want == "" {
				want = "<none>:<none> " + id.String()
			}
			if got != want {
				t.Errorf("berth images: %q, want %q", got, want)
			}
			if got, want := berthDiffIDs(t, root, id.String()), diffIDsOf(t, env, ref); !slices.Equal(got, want) {
				t.Errorf("berth layers %v, skopeo's diffIDs %v", got, want)
			}
			// An OCI layout's manifest is kept as it is (a docker-archive
			// has none: each tool makes its own).
			if !strings.HasPrefix(ref, "docker-archive:") {
				if got := berthLine(t, root, "image", "inspect", "--format", "{{.Descriptor.digest}}", id.String()); got != md.String() {
					t.Errorf("berth records manifest %s, the layout has %s", got, md)
				}
			}
			bb.assertBusyboxLayers(t, root, id.String())
		})
	}
}

// imagesDigest is berth's manifest digest and ID of an image.
func imagesDigest(t *testing.T, root, ref string) (digest, id string) {
	t.Helper()
	out := berthLine(t, root, "images", "--digests", "--no-trunc", "--format", "{{.Digest}} {{.ID}}", ref)
	f := strings.Fields(out)
	if len(f) != 2 {
		t.Fatalf("berth images --digests %s: %q", ref, out)
	}
	return f[0], f[1]
}

// TestInteropRegistryBerthPush: what berth pushes (a Docker schema 2 and
// an OCI image) skopeo and podman pull as the same manifest and config.
func TestInteropRegistryBerthPush(t *testing.T) {
	needTools(t, "podman", "skopeo")
	isolate(t)
	env := toolEnv(t)
	reg := startRegistry(t)
	bb := newBusybox(t, "localhost/interop/busybox:v1")
	tests := []struct {
		name, archive string
		// sameInOCI: skopeo keeps the manifest as it is when copying
		// into an OCI layout (it converts Docker schema 2).
		sameInOCI bool
	}{
		{"docker-schema2", bb.dockerArchive, false},
		{"oci", bb.ociArchive, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			ref := reg + "/interop/" + tc.name + ":v1"
			mustBerth(t, root, "load", "-i", tc.archive)
			mustBerth(t, root, "tag", bb.ref, ref)
			mustBerth(t, root, "push", "-q", "--tls-verify=false", ref)
			digest, id := imagesDigest(t, root, ref)
			if id != bb.id.String() {
				t.Errorf("berth image ID %s, want the fixture's %s", id, bb.id)
			}

			remote := "docker://" + ref
			d, m := rawManifest(t, env, remote, "--tls-verify=false")
			if d.String() != digest || m.Config.Digest.String() != id {
				t.Errorf("skopeo reads manifest %s config %s, berth reports %s %s", d, m.Config.Digest, digest, id)
			}
			if got := strings.TrimSpace(skopeo(t, env, "inspect", "--tls-verify=false", "--format", "{{.Digest}}", remote)); got != digest {
				t.Errorf("skopeo inspect digest %s, berth reports %s", got, digest)
			}

			layoutDir := filepath.Join(t.TempDir(), "layout")
			skopeo(t, env, "copy", "-q", "--src-tls-verify=false", remote, "oci:"+layoutDir+":v1")
			od, om := rawManifest(t, env, "oci:"+layoutDir+":v1")
			if tc.sameInOCI && (od.String() != digest || om.Config.Digest.String() != id) {
				t.Errorf("skopeo copied manifest %s config %s, berth reports %s %s", od, om.Config.Digest, digest, id)
			}
			if len(om.Layers) != 1 || len(m.Layers) != 1 || om.Layers[0].Digest != m.Layers[0].Digest {
				t.Errorf("skopeo copied layers %v, the registry has %v", om.Layers, m.Layers)
			}
			if got, want := diffIDsOf(t, env, "oci:"+layoutDir+":v1"), berthDiffIDs(t, root, ref); len(got) != 1 || !slices.Equal(got, want) {
				t.Errorf("skopeo copied diffIDs %v, berth has %v", got, want)
			}

			podman := newPodman(t, env)
			podman("pull", "-q", "--tls-verify=false", ref)
			want := id + " " + digest
			if got := strings.TrimSpace(podman("images", "--no-trunc", "--format", "{{.ID}} {{.Digest}}", ref)); got != want {
				t.Errorf("podman pulled %q, berth reports %q", got, want)
			}
		})
	}
}

// TestInteropRegistryOthersPush: a multi-layer image that skopeo pushes
// (gzip, Docker schema 2) or podman pushes (zstd, OCI) is pulled by berth
// with their manifest digest, config digest and diffIDs, and unpacked.
func TestInteropRegistryOthersPush(t *testing.T) {
	needTools(t, "podman", "skopeo")
	isolate(t)
	env := toolEnv(t)
	bb := newBusybox(t, "localhost/interop/busybox:v1")
	const multi = "localhost/interop/multi:v1"
	img, err := mutate.AppendLayers(bb.image(t), randomLayer(t, 64<<10), randomLayer(t, 32<<10))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(t.TempDir(), "multi.tar")
	if err := tarball.WriteToFile(src, name.MustParseReference(multi), img); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		push func(ref string)
		// layerType is the media type the pushed layers must have.
		layerType types.MediaType
	}{
		{"skopeo", func(ref string) {
			skopeo(t, env, "copy", "-q", "--dest-tls-verify=false", "docker-archive:"+src, "docker://"+ref)
		}, types.DockerLayer},
		{"podman-zstd", func(ref string) {
			podman := newPodman(t, env)
			podman("load", "-q", "-i", src)
			podman("push", "-q", "--tls-verify=false", "--format", "oci", "--compression-format", "zstd", multi, ref)
		}, types.OCILayerZStd},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A registry each: containers/image reuses any blob the
			// registry has, whatever compression was asked for.
			ref := startRegistry(t) + "/interop/" + tc.name + ":v1"
			tc.push(ref)
			remote := "docker://" + ref
			_, m := rawManifest(t, env, remote, "--tls-verify=false")
			for _, l := range m.Layers {
				if l.MediaType != tc.layerType {
					t.Errorf("%s pushed a %s layer, want %s", tc.name, l.MediaType, tc.layerType)
				}
			}
			wantDigest := strings.TrimSpace(skopeo(t, env, "inspect", "--tls-verify=false", "--format", "{{.Digest}}", remote))
			wantDiffIDs := diffIDsOf(t, env, remote, "--tls-verify=false")

			root := t.TempDir()
			mustBerth(t, root, "pull", "-q", "--tls-verify=false", ref)
			digest, id := imagesDigest(t, root, ref)
			if digest != wantDigest {
				t.Errorf("berth pulled manifest %s, %s pushed %s", digest, tc.name, wantDigest)
			}
			if id != m.Config.Digest.String() {
				t.Errorf("berth image ID %s, the pushed config is %s", id, m.Config.Digest)
			}
			if got := berthDiffIDs(t, root, ref); !slices.Equal(got, wantDiffIDs) || len(got) != 3 {
				t.Errorf("berth layers %v, skopeo's diffIDs %v", got, wantDiffIDs)
			}
			bb.assertBusyboxLayers(t, root, ref)
		})
	}
}

// TestInteropIndex: an image index for two platforms, pushed by skopeo
// (built with go-containerregistry) and by podman manifest, is pulled by
// berth for the host's platform and for the other one with --platform.
func TestInteropIndex(t *testing.T) {
	needTools(t, "podman", "skopeo")
	isolate(t)
	env := toolEnv(t)
	reg := startRegistry(t)
	bb := newBusybox(t, "localhost/interop/busybox:v1")
	host := runtime.GOARCH
	other := "arm64"
	if host == other {
		other = "amd64"
	}
	// The host image is the fixture; the other one has another
	// architecture in its config, hence another ID.
	hostImg := bb.ociImage(t)
	cf, err := hostImg.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.Variant = other, ""
	if other == "arm64" {
		cf.Variant = "v8"
	}
	otherImg, err := mutate.ConfigFile(hostImg, cf)
	if err != nil {
		t.Fatal(err)
	}
	hostID, otherID := configDigest(t, hostImg).String(), configDigest(t, otherImg).String()
	platform := func(img v1.Image) *v1.Platform {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		return &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
	}

	tests := []struct {
		name string
		// push puts the index at ref.
		push func(t *testing.T, ref string)
	}{
		{"skopeo", func(t *testing.T, ref string) {
			idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
				mutate.IndexAddendum{Add: hostImg, Descriptor: v1.Descriptor{Platform: platform(hostImg)}},
				mutate.IndexAddendum{Add: otherImg, Descriptor: v1.Descriptor{Platform: platform(otherImg)}})
			dir := filepath.Join(t.TempDir(), "layout")
			p, err := layout.Write(dir, empty.Index)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "multi"})); err != nil {
				t.Fatal(err)
			}
			skopeo(t, env, "copy", "-q", "--all", "--dest-tls-verify=false", "oci:"+dir+":multi", "docker://"+ref)
		}},
		{"podman-manifest", func(t *testing.T, ref string) {
			// podman manifest add reads images from a registry: put both
			// there first, then let podman make and push the index.
			podman := newPodman(t, env)
			list := "localhost/interop/list:v1"
			podman("manifest", "create", list)
			for i, img := range []v1.Image{hostImg, otherImg} {
				arch := platform(img)
				one := fmt.Sprintf("%s-single%d:v1", strings.TrimSuffix(ref, ":v1"), i)
				pushLayout(t, env, img, one)
				args := []string{"manifest", "add", "--tls-verify=false", "--os", arch.OS, "--arch", arch.Architecture}
				if arch.Variant != "" {
					args = append(args, "--variant", arch.Variant)
				}
				podman(append(args, list, "docker://"+one)...)
			}
			podman("manifest", "push", "-q", "--all", "--tls-verify=false", list, "docker://"+ref)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := reg + "/interop/index-" + tc.name + ":v1"
			tc.push(t, ref)
			indexDigest, im := rawIndex(t, env, "docker://"+ref)
			if len(im.Manifests) != 2 {
				t.Fatalf("the pushed index has %d manifests", len(im.Manifests))
			}
			var archs []string
			for _, d := range im.Manifests {
				if d.Platform != nil {
					archs = append(archs, d.Platform.OS+"/"+d.Platform.Architecture)
				}
			}
			want := []string{"linux/" + host, "linux/" + other}
			slices.Sort(archs)
			slices.Sort(want)
			if !slices.Equal(archs, want) {
				t.Fatalf("the pushed index is for %v, want %v", archs, want)
			}
			for _, p := range []struct{ flag, want, arch string }{
				{"", hostID, host},
				{"linux/" + other, otherID, other},
			} {
				root := t.TempDir()
				args := []string{"pull", "-q", "--tls-verify=false", ref}
				if p.flag != "" {
					args = append(args, "--platform", p.flag)
				}
				if got := berthLine(t, root, args...); got != p.want {
					t.Errorf("berth pull --platform %q got %s, want %s", p.flag, got, p.want)
				}
				if got := berthLine(t, root, "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", ref); got != "linux/"+p.arch {
					t.Errorf("berth pull --platform %q got a %s image", p.flag, got)
				}
				if digest, _ := imagesDigest(t, root, ref); digest != indexDigest.String() {
					t.Errorf("berth records digest %s, the index is %s", digest, indexDigest)
				}
				bb.assertBusyboxLayers(t, root, ref)
			}
		})
	}
}

// pushLayout pushes img to ref through skopeo (from an OCI layout).
func pushLayout(t *testing.T, env []string, img v1.Image, ref string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "one"})); err != nil {
		t.Fatal(err)
	}
	skopeo(t, env, "copy", "-q", "--dest-tls-verify=false", "oci:"+dir+":one", "docker://"+ref)
}

// rawIndex is the index at a transport reference, with its digest.
func rawIndex(t *testing.T, env []string, ref string) (v1.Hash, *v1.IndexManifest) {
	t.Helper()
	raw := skopeo(t, env, "inspect", "--raw", "--tls-verify=false", ref)
	d, _, err := v1.SHA256(strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var im v1.IndexManifest
	if err := json.Unmarshal([]byte(raw), &im); err != nil {
		t.Fatalf("index at %s: %v", ref, err)
	}
	return d, &im
}
