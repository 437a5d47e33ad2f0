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
