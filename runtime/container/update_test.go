package container

import (
	"reflect"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestMergeResources(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	u64 := func(v uint64) *uint64 { return &v }
	w := uint16(300)
	old := &specs.LinuxResources{
		Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}},
		Memory:  &specs.LinuxMemory{Limit: i64(1 << 20), Swap: i64(2 << 20)},
		CPU:     &specs.LinuxCPU{Shares: u64(1024), Cpus: "0"},
	}
	tests := []struct {
		name string
		old  *specs.LinuxResources
		upd  *specs.LinuxResources
		want *specs.LinuxResources
	}{
		{"nothing saved", nil, &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(5)}},
			&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(5)}}},
		{"fields merged", old, &specs.LinuxResources{
			Memory:  &specs.LinuxMemory{Limit: i64(4 << 20)},
			CPU:     &specs.LinuxCPU{Quota: i64(5000)},
			BlockIO: &specs.LinuxBlockIO{Weight: &w},
		}, &specs.LinuxResources{
			Devices: old.Devices,
			Memory:  &specs.LinuxMemory{Limit: i64(4 << 20), Swap: i64(2 << 20)},
			CPU:     &specs.LinuxCPU{Shares: u64(1024), Quota: i64(5000), Cpus: "0"},
			BlockIO: &specs.LinuxBlockIO{Weight: &w},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mergeResources(tt.old, tt.upd); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	// The saved limits are not changed in place.
	if *old.Memory.Limit != 1<<20 {
		t.Errorf("old memory limit changed to %d", *old.Memory.Limit)
	}
}
