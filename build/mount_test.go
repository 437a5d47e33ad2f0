package build

import (
	"context"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/berth-dev/berth/dockerfile"
)

// runMounts resolves the mounts of one RUN line as the builder does.
func runMounts(t *testing.T, line string, secrets map[string][]byte) (*mountSet, error) {
	t.Helper()
	c, err := dockerfile.ParseInstruction(line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	if err := dockerfile.Expand(c, []string{"ID=x"}, 0); err != nil {
		return nil, err
	}
	bd := &builder{o: Options{Secrets: secrets}}
	return bd.mounts(context.Background(), 0, &state{}, c.(*instructions.RunCommand))
}

// TestMountKey: a secret's content is in no key (only its id and
// target), a cache's options are; tmpfs/secret/cache get their defaults.
func TestMountKey(t *testing.T) {
	key := func(line string, secrets map[string][]byte) string {
		ms, err := runMounts(t, line, secrets)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		defer ms.close()
		return ms.key
	}
	sec := "RUN --mount=type=secret,id=tok cat /run/secrets/tok"
	if a, b := key(sec, map[string][]byte{"tok": []byte("one")}), key(sec, map[string][]byte{"tok": []byte("two")}); a != b {
		t.Error("the secret's content changed the key")
	}
	if a, b := key("RUN --mount=type=cache,target=/c,id=$ID true", nil), key("RUN --mount=type=cache,target=/c,id=y true", nil); a == b {
		t.Error("the cache id is not in the key")
	}
	ms, err := runMounts(t, "RUN --mount=type=secret,id=tok --mount=type=cache,target=c --mount=type=tmpfs,target=/t,size=1m true", map[string][]byte{"tok": []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	defer ms.close()
	if len(ms.mounts) != 3 {
		t.Fatalf("mounts: %+v", ms.mounts)
	}
	s, c, tm := ms.mounts[0], ms.mounts[1], ms.mounts[2]
	if s.Target != "/run/secrets/tok" || s.Mode != 0o400 || !s.ReadOnly || string(s.Data) != "s" {
		t.Errorf("secret: %+v", s)
	}
	if c.Target != "/c" || c.CacheID != "/c" || c.Sharing != "shared" || c.Mode != 0o755 || c.ReadOnly {
		t.Errorf("cache: %+v", c)
	}
	if tm.Size != 1<<20 {
		t.Errorf("tmpfs: %+v", tm)
	}
	for _, tc := range []struct{ line, err string }{
		{"RUN --mount=type=secret,id=need,required true", "secret need: not found"},
		{"RUN --mount=type=tmpfs,target=/ true", "cannot mount over the root"},
		{"RUN --mount=type=ssh true", "not supported"},
	} {
		if _, err := runMounts(t, tc.line, nil); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want %q", tc.line, err, tc.err)
		}
	}
	// Not required and not given: no mount, no error.
	if ms, err := runMounts(t, "RUN --mount=type=secret,id=opt true", nil); err != nil || len(ms.mounts) != 0 {
		t.Errorf("optional secret: %v %+v", err, ms)
	}
}

// TestHeredocArgs: BuildKit's three forms of RUN heredocs.
func TestHeredocArgs(t *testing.T) {
	sh := []string{"/bin/sh", "-c"}
	run := func(src string) ([]string, *Mount) {
		t.Helper()
		df, err := dockerfile.Parse(strings.NewReader("FROM scratch\n" + src))
		if err != nil {
			t.Fatal(err)
		}
		return heredocArgs(sh, df.Stages[0].Commands[0].(*instructions.RunCommand).ShellDependantCmdLine)
	}
	if args, m := run("RUN <<EOF\necho a\necho b\nEOF\n"); m != nil || strings.Join(args, "|") != "/bin/sh|-c|echo a\necho b\n" {
		t.Errorf("script: %q %v", args, m)
	}
	if args, m := run("RUN <<-EOF\n\techo a\n\tEOF\n"); m != nil || strings.Join(args, "|") != "/bin/sh|-c|echo a\n" {
		t.Errorf("chomped: %q %v", args, m)
	}
	if args, m := run("RUN <<run.py\n#!/usr/bin/python3\nprint(1)\nrun.py\n"); m == nil || strings.Join(args, "|") != "/dev/pipes/run.py" || m.File != "run.py" {
		t.Errorf("shebang: %q %+v", args, m)
	}
	if args, m := run("RUN cat <<A > /x\nhi\nA\n"); m != nil || strings.Join(args, "|") != "/bin/sh|-c|cat <<A > /x\nhi\nA" {
		t.Errorf("after a command: %q %v", args, m)
	}
	if args, _ := run("RUN echo plain\n"); args != nil {
		t.Errorf("no heredoc: %q", args)
	}
}
