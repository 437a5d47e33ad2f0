package build

import (
	"archive/tar"
	"crypto/sha256"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/berth-dev/berth/dockerfile"
)

// heredocArgs is a RUN with heredocs as BuildKit runs it: a lone
// heredoc is the script (run by the shell, or as a file when it starts
// with #!, which then needs mounting), else the heredocs are put back
// after the line for the shell to read.
func heredocArgs(shell []string, c instructions.ShellDependantCmdLine) ([]string, *Mount) {
	if len(c.Files) == 0 || !c.PrependShell || len(c.CmdLine) != 1 {
		return nil, nil
	}
	if h := parser.MustParseHeredoc(c.CmdLine[0]); h != nil {
		f := c.Files[0]
		data := f.Data
		if f.Chomp {
			data = parser.ChompHeredocContent(data)
		}
		if strings.HasPrefix(data, "#!") {
			name := path.Base(path.Clean("/" + f.Name))
			if name == "/" || name == "." {
				name = "script"
			}
			m := &Mount{Type: "bind", Target: "/dev/pipes/" + name, ReadOnly: true, File: name,
				Tar: inlineTar(name, []byte(data), 0o755)}
			return []string{m.Target}, m
		}
		return append(append([]string(nil), shell...), data), nil
	}
	full := c.CmdLine[0]
	for _, f := range c.Files {
		full += "\n" + f.Data + f.Name
	}
	return append(append([]string(nil), shell...), full), nil
}

// inlineTar writes one file of the given content.
func inlineTar(name string, data []byte, mode fs.FileMode) func(w io.Writer) error {
	return func(w io.Writer) error {
		tw := tar.NewWriter(w)
		hdr := &tar.Header{Name: name, Mode: int64(mode), Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
		return tw.Close()
	}
}

// inlineInfo is a heredoc file's FileInfo (COPY <<EOF).
type inlineInfo struct {
	name string
	size int64
}

func (i inlineInfo) Name() string       { return i.name }
func (i inlineInfo) Size() int64        { return i.size }
func (i inlineInfo) Mode() fs.FileMode  { return 0o644 }
func (i inlineInfo) ModTime() time.Time { return time.Unix(0, 0) }
func (i inlineInfo) IsDir() bool        { return false }
func (i inlineInfo) Sys() any           { return nil }

// inlineEntry is a COPY heredoc as an entry of the copy.
func inlineEntry(name string, data string) entry {
	return entry{name: name, fi: inlineInfo{name: path.Base(name), size: int64(len(data))}, data: []byte(data), inline: true}
}

func inlineDigest(data []byte) []byte {
	s := sha256.Sum256(data)
	return s[:]
}

// expandInline expands the variables of the heredocs that take them
// (<<EOF, not <<'EOF'), leaving quotes and backslashes as written, as
// BuildKit does.
func expandInline(sd *instructions.SourcesAndDest, env []string, escape rune) error {
	if escape == 0 {
		escape = '\\'
	}
	lex := shell.NewLex(escape)
	lex.RawQuotes, lex.RawEscapes = true, true
	return sd.ExpandRaw(func(word string) (string, error) {
		s, _, err := lex.ProcessWord(word, dockerfile.Env(env))
		return s, err
	})
}
