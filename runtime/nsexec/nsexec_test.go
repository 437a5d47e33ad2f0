package nsexec

import (
	"bytes"
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
