package main

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRecvMaster checks what the relay accepts as the pty master from the container: exactly
// one fd; a container that died first (EOF) or sent no fd is a clear error, not a hang.
func TestRecvMaster(t *testing.T) {
	tests := []struct {
		name    string
		send    func(t *testing.T, peer int)
		wantErr string
	}{
		{"closed without sending", func(*testing.T, int) {}, "sent none"},
		{"payload without fd", func(t *testing.T, peer int) {
			if _, err := unix.Write(peer, []byte("/dev/pts/0")); err != nil {
				t.Fatal(err)
			}
		}, "sent none"},
		{"one fd", func(t *testing.T, peer int) {
			f, err := os.Open("/dev/null")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := unix.Sendmsg(peer, []byte("/dev/pts/0"), unix.UnixRights(int(f.Fd())), nil, 0); err != nil {
				t.Fatal(err)
			}
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(fds[0])
			tt.send(t, fds[1])
			unix.Close(fds[1])
			fd, err := recvMaster(fds[0])
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("recvMaster: %v", err)
				}
				unix.Close(fd)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("recvMaster: got fd %d, err %v; want an error saying %q", fd, err, tt.wantErr)
			}
		})
	}
}
