// Command pull is bench/pull.sh's driver: it generates a large image
// (about 200 MB of files in 5 layers, about 20,000 files), writes it to a
// local registry, then times pulling and unpacking it from an empty store
// with berth, podman and skopeo+umoci, interleaved, and prints medians of
// wall time and peak RSS with ratios to berth.
package main

import (
	"archive/tar"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/gzip"
)

var (
	registry = flag.String("registry", "", "host:port of the registry (plain HTTP, loopback)")
	berth    = flag.String("berth", "", "berth binary")
	work     = flag.String("work", "", "scratch directory")
	runs     = flag.Int("runs", 3, "runs per tool")
	layers   = flag.Int("layers", 5, "layers")
	files    = flag.Int("files", 20000, "files in all")
	size     = flag.Int64("size", 200<<20, "bytes of file content in all")
	tools    = flag.String("tools", "berth,podman,skopeo+umoci", "tools to time")
)

func main() {
	flag.Parse()
	log.SetFlags(0)
	if *registry == "" || *berth == "" || *work == "" {
		log.Fatal("usage: pull -registry HOST:PORT -berth BIN -work DIR")
	}
	ref := *registry + "/bench/pull:v1"
	start := time.Now()
	img, stats, err := generate(filepath.Join(*work, "layers"))
	if err != nil {
		log.Fatal(err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		log.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		log.Fatalf("push: %v", err)
	}
	fmt.Printf("image %s: %s (generated and pushed in %s)\n", ref, stats, time.Since(start).Round(time.Second))

	names := strings.Split(*tools, ",")
	results := map[string][]sample{}
	for i := range *runs {
		for _, tool := range names {
			s, err := run(tool, ref, filepath.Join(*work, fmt.Sprintf("%s-%d", strings.ReplaceAll(tool, "+", "-"), i)))
			if err != nil {
				log.Fatalf("%s: %v", tool, err)
			}
			fmt.Printf("run %d %-13s %6.2fs  %4d MB peak RSS  (cpu: user %.2fs, sys %.2fs)\n",
				i+1, tool, s.wall.Seconds(), s.rssKB/1024, s.user.Seconds(), s.sys.Seconds())
			results[tool] = append(results[tool], s)
		}
	}
	fmt.Printf("\nmedians of %d runs (pull + unpack from an empty store, same registry):\n", *runs)
	bw, brss := median(results["berth"])
	for _, tool := range names {
		w, rss := median(results[tool])
		line := fmt.Sprintf("%-13s %6.2fs  %4d MB", tool, w.Seconds(), rss/1024)
		if tool != "berth" && bw > 0 {
			line += fmt.Sprintf("   berth/%s: time %.2fx, RSS %.2fx", tool, bw.Seconds()/w.Seconds(), float64(brss)/float64(rss))
		}
		fmt.Println(line)
	}
}

type sample struct {
	wall, user, sys time.Duration
	rssKB           int64
}

func median(s []sample) (time.Duration, int64) {
	if len(s) == 0 {
		return 0, 0
	}
	w := make([]time.Duration, len(s))
	r := make([]int64, len(s))
	for i, x := range s {
		w[i], r[i] = x.wall, x.rssKB
	}
	sort.Slice(w, func(i, j int) bool { return w[i] < w[j] })
	sort.Slice(r, func(i, j int) bool { return r[i] < r[j] })
	return w[len(w)/2], r[len(r)/2]
}

// run times one pull+unpack by tool into the fresh directory dir.
func run(tool, ref, dir string) (sample, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return sample{}, err
	}
	// Each run starts with no dirty data of the one before still being
	// written back (untimed). Run dirs are kept until the end: deleting
	// 20,000 files makes this disk discard for seconds afterwards, which
	// slowed the next run (any tool) by 2-4x.
	syscall.Sync()
	var steps [][]string
	switch tool {
	case "berth":
		steps = [][]string{{*berth, "--root", dir, "pull", "-q", "--tls-verify=false", ref}}
	case "podman":
		steps = [][]string{{"podman", "--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
			"--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
			"pull", "-q", "--tls-verify=false", ref}}
	case "skopeo+umoci":
		steps = [][]string{
			{"skopeo", "copy", "-q", "--src-tls-verify=false", "docker://" + ref, "oci:" + filepath.Join(dir, "oci") + ":v1"},
			{"umoci", "unpack", "--image", filepath.Join(dir, "oci") + ":v1", filepath.Join(dir, "bundle")},
		}
	default:
		return sample{}, fmt.Errorf("unknown tool %q", tool)
	}
	var s sample
	for _, argv := range steps {
		cmd := exec.Command(argv[0], argv[1:]...)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		// The same clean environment for every tool: no proxies, no
		// user registries config.
		cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + dir, "TMPDIR=" + dir}
		t0 := time.Now()
		if err := cmd.Run(); err != nil {
			return s, fmt.Errorf("%s: %v\n%s", strings.Join(argv, " "), err, out.String())
		}
		s.wall += time.Since(t0)
		// wait4's rusage: the largest RSS in the finished process tree.
		s.user += cmd.ProcessState.UserTime()
		s.sys += cmd.ProcessState.SystemTime()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > s.rssKB {
			s.rssKB = ru.Maxrss
		}
	}
	if tool == "podman" {
		// podman's overlay store may leave mounts (storage's own
		// layer mounts); unmount anything below dir before removing it.
		exec.Command("sh", "-c", "grep -o ' "+dir+"[^ ]*' /proc/self/mounts | sort -r | xargs -r umount -l").Run()
	}
	return s, nil
}

// generate writes the layers as gzip tarballs in dir and returns the image.
// Content is half random, half repetitive text, so it compresses about as
// well as typical distribution files (~2x).
func generate(dir string) (v1.Image, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	perLayer := *files / *layers
	bytesPerLayer := *size / int64(*layers)
	img := empty.Image
	var total, compressed int64
	for l := range *layers {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.tar.gz", l))
		n, err := writeLayer(p, rng, l, perLayer, bytesPerLayer)
		if err != nil {
			return nil, "", err
		}
		total += n
		layer, err := tarball.LayerFromFile(p)
		if err != nil {
			return nil, "", err
		}
		if sz, err := layer.Size(); err == nil {
			compressed += sz
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return nil, "", err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, "", err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, "", err
	}
	return img, fmt.Sprintf("%d layers, %d files, %d MB of content, %d MB compressed", *layers, perLayer**layers, total>>20, compressed>>20), nil
}

const text = "The quick brown fox jumps over the lazy dog; lorem ipsum dolor sit amet. "

func writeLayer(p string, rng *rand.Rand, l, n int, bytes int64) (int64, error) {
	f, err := os.Create(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	tw := tar.NewWriter(zw)
	// 2% of the files are large (they hold half the bytes); the rest are
	// small, like a distribution's /usr.
	large := n / 50
	largeSize := bytes / 2 / int64(large)
	smallAvg := bytes / 2 / int64(n-large)
	var total int64
	buf := make([]byte, 0, largeSize+1)
	mt := time.Unix(1_700_000_000, 0)
	for i := range n {
		d := fmt.Sprintf("l%d/d%03d/", l, i/50)
		if i%50 == 0 {
			if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}); err != nil {
				return 0, err
			}
		}
		sz := largeSize
		if i%50 != 0 || i/50 >= large {
			sz = 1 + rng.Int64N(2*smallAvg)
		}
		buf = buf[:0]
		for int64(len(buf)) < sz {
			if rng.IntN(2) == 0 {
				for range 64 {
					buf = append(buf, byte(rng.Uint32()))
				}
			} else {
				buf = append(buf, text[:64]...)
			}
		}
		buf = buf[:sz]
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("%sf%05d", d, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: sz, ModTime: mt}); err != nil {
			return 0, err
		}
		if _, err := tw.Write(buf); err != nil {
			return 0, err
		}
		total += sz
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := zw.Close(); err != nil {
		return 0, err
	}
	return total, f.Close()
}
