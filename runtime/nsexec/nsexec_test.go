package nsexec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("needs root")
	}
}

// runPlan drives a plan the way the runtime does: ack the fork, send the second segment.
func runPlan(t *testing.T, first, second *Plan) (string, error) {
	t.Helper()
	outf, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer outf.Close()
	c, err := Start(Config{Stdout: outf, Stderr: outf}, first)
	if err != nil {
		t.Fatal(err)
	}
	out := &bytes.Buffer{}
	read := func() { b, _ := os.ReadFile(outf.Name()); out.Reset(); out.Write(b) }
	defer c.Close()
	pid := 0
	for {
		tag, payload, err := c.Next()
		if err != nil {
			c.Kill()
			if pid > 0 {
				var ws syscall.WaitStatus
				syscall.Wait4(pid, &ws, 0, nil)
			}
			read()
			return out.String(), err
		}
		switch tag {
		case TagPid:
			pid, _ = PidPayload(payload)
			if err := c.Wait(); err != nil {
				t.Fatalf("intermediate: %v", err)
			}
			c.Ack()
			if second != nil {
				c.SendPlan(second)
			}
		case TagReady:
			var ws syscall.WaitStatus
			if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
				t.Fatal(err)
			}
			read()
			if ws.ExitStatus() != 0 {
				t.Fatalf("exit status %d: %s", ws.ExitStatus(), out.String())
			}
			return out.String(), nil
		}
	}
}

func TestPlans(t *testing.T) {
	requireRoot(t)
	tests := []struct {
		name    string
		build   func(p *Plan)
		want    string
		wantErr string
	}{
		{
			name: "exec in new uts namespace",
			build: func(p *Plan) {
				p.Unshare(unix.CLONE_NEWUTS | unix.CLONE_NEWPID)
				p.Fork()
				p.ReadPlan()
			},
			want: "berth-test 1",
		},
		{
			name:    "missing binary",
			build:   func(p *Plan) { p.Fork(); p.Lookup("no-such-binary", "/bin:/usr/bin") },
			wantErr: `exec: "no-such-binary": executable file not found in $PATH`,
		},
		{
			name:    "bad mount",
			build:   func(p *Plan) { p.Fork(); p.Mount("none", "/does/not/exist", "tmpfs", 0, "") },
			wantErr: "mount none to /does/not/exist",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var first Plan
			tt.build(&first)
			var second Plan
			second.Hostname("berth-test")
			second.Lookup("sh", "/usr/bin:/bin")
			second.Ready()
			second.Exec("", []string{"sh", "-c", "echo $(hostname) $$"}, []string{"PATH=/bin"})
			out, err := runPlan(t, &first, &second)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(out); got != tt.want {
				t.Fatalf("output %q, want %q", got, tt.want)
			}
		})
	}
}

// TestChildBinaryReadOnly checks the CVE-2019-5736 defence: while the interpreter runs (before it
// execs the container process), its executable cannot be opened for writing through /proc.
func TestChildBinaryReadOnly(t *testing.T) {
	requireRoot(t)
	var first Plan
	first.Fork()
	first.Sync('S')
	first.Exec("/bin/true", []string{"true"}, nil)
	c, err := Start(Config{}, &first)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tag, payload, err := c.Next()
	if err != nil || tag != TagPid {
		t.Fatalf("got %q %v", tag, err)
	}
	pid, _ := PidPayload(payload)
	_ = c.Wait()
	if err := c.Ack(); err != nil {
		t.Fatal(err)
	}
	if tag, _, err = c.Next(); err != nil || tag != 'S' {
		t.Fatalf("got %q %v", tag, err)
	}
	// The attack keeps a handle on the binary and writes once nothing runs it any more.
	h, err := os.OpenFile(fmt.Sprintf("/proc/%d/exe", pid), unix.O_PATH, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	c.Ack()
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, 0, nil)
	// The test binary itself still runs, so a write would fail with ETXTBSY here whatever
	// the mount: check the mount the handle is on instead. Read-only means EROFS for any
	// writer, at any time.
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(h.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	if st.Flags&unix.ST_RDONLY == 0 {
		t.Fatal("the runtime binary of a container process is on a writable mount")
	}
	_ = errors.Is
}

// TestHookIgnoresStdin runs a hook that exits without reading the state: the write that fails
// with EPIPE must not kill the process with SIGPIPE. The state is larger than a pipe's buffer,
// so the write always outlives the hook.
func TestHookIgnoresStdin(t *testing.T) {
	requireRoot(t)
	var first Plan
	first.Fork()
	first.ReadPlan()
	var second Plan
	second.Hook(5, []byte(strings.Repeat("x", 1<<20)), "/bin/true", []string{"true"}, nil)
	second.Ready()
	second.Exec("/bin/true", []string{"true"}, nil)
	if _, err := runPlan(t, &first, &second); err != nil {
		t.Fatal(err)
	}
}

// TestSealedSelfCopy: the rootless copy of the binary is complete and can never be written.
func TestSealedSelfCopy(t *testing.T) {
	f, err := sealedSelfCopy()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, self) {
		t.Fatalf("copy has %d bytes, binary %d", len(got), len(self))
	}
	if _, err := f.WriteAt([]byte{0}, 0); err == nil {
		t.Error("write to the sealed copy succeeded")
	}
	// Through /proc, as a container would reach it: opening may work, writing may not.
	if w, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), os.O_WRONLY, 0); err == nil {
		if _, err := w.Write([]byte{0}); err == nil {
			t.Error("write through a reopened sealed copy succeeded")
		}
		w.Close()
	}
	seals, err := unix.FcntlInt(f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE; seals&want != want {
		t.Errorf("seals %#x, want %#x", seals, want)
	}
}

// TestInRootOps runs the ...At operations on a hostile root in a private mount namespace: what
// they create or mount stays inside the root, and what would be redirected is refused.
func TestInRootOps(t *testing.T) {
	requireRoot(t)
	outside := t.TempDir()
	hostFile := outside + "/hostfile"
	if err := os.WriteFile(hostFile, []byte("host\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		prepare func(root string) error
		build   func(p *Plan)
		wantErr string
		check   func(t *testing.T, root, out string)
	}{
		{
			name:    "mask source not the null device",
			prepare: func(root string) error { return os.WriteFile(root+"/dev/null", nil, 0o666) },
			build:   func(p *Plan) { p.MaskAt("etc/passwd") },
			wantErr: "not the 1:3 null device",
		},
		{
			name:    "mask source a symlink",
			prepare: func(root string) error { return os.Symlink(hostFile, root+"/dev/null") },
			build:   func(p *Plan) { p.MaskAt("etc/passwd") },
			wantErr: "not the 1:3 null device",
		},
		{
			name:    "device over a symlink",
			prepare: func(root string) error { return os.Symlink(hostFile, root+"/dev/null") },
			build:   func(p *Plan) { p.MknodAt("dev/null", unix.S_IFCHR|0o666, unix.Mkdev(1, 3), 0, 0) },
			wantErr: "symlink there, refused",
		},
		{
			name: "mask with the null device",
			prepare: func(root string) error {
				return unix.Mknod(root+"/dev/null", unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3)))
			},
			build: func(p *Plan) { p.MaskAt("etc/passwd"); p.ReadonlyAt("etc", 0) },
			check: func(t *testing.T, root, out string) {
				if !strings.Contains(out, " "+root+"/etc/passwd ") || !strings.Contains(out, " "+root+"/etc ro,") {
					t.Errorf("want the mask and the read-only bind inside the root:\n%s", out)
				}
			},
		},
		{
			name:    "dangling symlink out of the root",
			prepare: func(root string) error { return os.Symlink(outside+"/made", root+"/a") },
			build: func(p *Plan) {
				p.MkdirAt("a/b", false)
				p.MountAt(MountOp{Source: "tmpfs", Dest: "a/../made/c", Type: "tmpfs", Opts: MountDir})
			},
			check: func(t *testing.T, root, out string) {
				if _, err := os.Stat(root + outside + "/made/b"); err != nil {
					t.Errorf("a/b not made inside the root: %v", err)
				}
				if !strings.Contains(out, " "+root+outside+"/made/c ") {
					t.Errorf("want the tmpfs at a/c inside the root:\n%s", out)
				}
			},
		},
		{
			name:    "procfs write through a magic link",
			build:   func(p *Plan) { p.ProcWrite("self/root"+hostFile, "x") },
			wantErr: "open /proc/self/root",
		},
		{
			name:    "procfs write above procfs",
			build:   func(p *Plan) { p.ProcWrite("../"+hostFile, "x") },
			wantErr: "open /proc/../",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range []string{"dev", "etc"} {
				if err := os.Mkdir(root+"/"+d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(root+"/etc/passwd", []byte("root\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.prepare != nil {
				if err := tt.prepare(root); err != nil {
					t.Fatal(err)
				}
			}
			var first, second Plan
			first.Unshare(unix.CLONE_NEWNS)
			first.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, "")
			first.Fork()
			first.ReadPlan()
			second.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, "")
			second.RootFd(root)
			tt.build(&second)
			second.Lookup("sh", "/usr/bin:/bin")
			second.Ready()
			second.Exec("", []string{"sh", "-c", "cat /proc/self/mountinfo"}, []string{"PATH=/bin:/usr/bin"})
			out, err := runPlan(t, &first, &second)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.check != nil {
				tt.check(t, root, out)
			}
			if b, err := os.ReadFile(hostFile); err != nil || string(b) != "host\n" {
				t.Errorf("host file changed: %q %v", b, err)
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 1 {
				t.Errorf("something was made outside the root: %v", entries)
			}
		})
	}
}
