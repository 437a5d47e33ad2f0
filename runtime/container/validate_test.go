package container

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestCheckUserAndResources(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	tests := []struct {
		name string
		user specs.User
		res  *specs.LinuxResources
		want string // "" for valid
	}{
		{"root", specs.User{}, nil, ""},
		{"largest id", specs.User{UID: 2147483647, GID: 2147483647, AdditionalGids: []uint32{2147483647}}, nil, ""},
		{"uid -1 as uint32", specs.User{UID: 4294967295}, nil, "process.user.uid 4294967295 is out of range"},
		{"gid 2^31", specs.User{GID: 2147483648}, nil, "process.user.gid 2147483648 is out of range"},
		{"additional gid", specs.User{AdditionalGids: []uint32{1, 4294967294}}, nil, "additionalGids: gid 4294967294"},
		{"unlimited", specs.User{}, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-1), Swap: i64(-1)}, Pids: &specs.LinuxPids{Limit: i64(-1)}, CPU: &specs.LinuxCPU{Quota: i64(-1)}}, ""},
		{"zero and positive", specs.User{}, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(1 << 30), Reservation: i64(0)}, Pids: &specs.LinuxPids{Limit: i64(0)}}, ""},
		{"memory -5", specs.User{}, &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64(-5)}}, "memory.limit -5 is invalid"},
		{"swap -2", specs.User{}, &specs.LinuxResources{Memory: &specs.LinuxMemory{Swap: i64(-2)}}, "memory.swap -2"},
		{"kernelTCP", specs.User{}, &specs.LinuxResources{Memory: &specs.LinuxMemory{KernelTCP: i64(-9)}}, "memory.kernelTCP -9"},
		{"pids min int64", specs.User{}, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(-1 << 63)}}, "pids.limit"},
		{"cpu realtime", specs.User{}, &specs.LinuxResources{CPU: &specs.LinuxCPU{RealtimeRuntime: i64(-3)}}, "cpu.realtimeRuntime -3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkUser(tt.user, "process.user")
			if err == nil {
				err = checkResources(tt.res)
			}
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}
