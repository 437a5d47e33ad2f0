package spec

import specs "github.com/opencontainers/runtime-spec/specs-go"

// Resources is the spec's linux.resources for o's memory, CPU and pids
// options alone, checked as Generate checks them: what `update` applies
// to a live container and writes into its bundle. A field o leaves unset
// is nil here.
func Resources(o *Options) (*specs.LinuxResources, error) {
	s := &specs.Spec{Linux: &specs.Linux{Resources: &specs.LinuxResources{}}}
	if err := setResources(s, o); err != nil {
		return nil, err
	}
	return s.Linux.Resources, nil
}
