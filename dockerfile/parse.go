package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// MaxSize bounds a Dockerfile read into memory (BuildKit's own limit is
// larger; a Dockerfile of megabytes is hostile, not a recipe).
const MaxSize = 4 << 20

// File is a parsed Dockerfile.
type File struct {
	Stages      []instructions.Stage
	MetaArgs    []instructions.ArgCommand // ARGs before the first FROM
	EscapeToken rune
	Warnings    []string
}

// Parse reads a whole Dockerfile. Errors name the line, as BuildKit's
// do ("dockerfile parse error on line 3: unknown instruction: FOO").
func Parse(r io.Reader) (*File, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read Dockerfile: %w", err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("the Dockerfile is larger than %d bytes", MaxSize)
	}
	if ref, _, _, ok := parser.DetectSyntax(b); ok && !builtinSyntax(ref) {
		return nil, fmt.Errorf("# syntax=%s: only the built-in Dockerfile front end (docker/dockerfile:1...) is supported", ref)
	}
	res, err := parse(b)
	if err != nil {
		return nil, err
	}
	stages, meta, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, err
	}
	if len(stages) == 0 {
		return nil, errors.New("the Dockerfile has no FROM instruction (file with no instructions)")
	}
	f := &File{Stages: stages, MetaArgs: meta, EscapeToken: res.EscapeToken}
	for _, w := range res.Warnings {
		f.Warnings = append(f.Warnings, w.Short)
	}
	return f, nil
}

// parse runs BuildKit's parser, turning its panics (it has had some on
// hostile input) into errors.
func parse(b []byte) (res *parser.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("dockerfile parse error: %v", r)
		}
	}()
	res, err = parser.Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("dockerfile parse error: %w", err)
	}
	return res, nil
}

// ParseChange reads one --change instruction and expands its variables
// from env, as Docker's commit and import do.
func ParseChange(line string, env []string) (instructions.Command, error) {
	if instr, rest, _ := strings.Cut(strings.TrimSpace(line), " "); instr != "" && strings.TrimSpace(rest) == "" {
		// BuildKit takes a bare CMD as an empty shell command; as a
		// change it is a mistake.
		return nil, fmt.Errorf("%s requires at least one argument", strings.ToUpper(instr))
	}
	c, err := ParseInstruction(line)
	if err != nil {
		return nil, err
	}
	if err := Expand(c, env, 0); err != nil {
		return nil, err
	}
	return c, nil
}

// ParseInstruction reads one instruction (a --change value). FROM and
// other stage-level lines are refused by the caller's list.
func ParseInstruction(line string) (instructions.Command, error) {
	line = strings.TrimSpace(line)
	if line == "" {
		return nil, errors.New("empty instruction")
	}
	res, err := parse([]byte(line))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, fmt.Errorf("want one instruction, got %d", len(res.AST.Children))
	}
	n := res.AST.Children[0]
	v, err := instructions.ParseInstruction(n)
	if err != nil {
		return nil, err
	}
	c, ok := v.(instructions.Command)
	if !ok {
		return nil, fmt.Errorf("%s is not a valid change command", strings.ToUpper(n.Value))
	}
	return c, nil
}

// builtinSyntax: docker/dockerfile (any 1.x tag, -labs too) is what the
// built-in front end implements.
func builtinSyntax(ref string) bool {
	ref = strings.TrimPrefix(strings.TrimPrefix(ref, "docker.io/"), "docker/dockerfile")
	if ref == "" {
		return true
	}
	tag, ok := strings.CutPrefix(ref, ":")
	if !ok {
		return false
	}
	tag, _, _ = strings.Cut(tag, "@")
	tag = strings.TrimSuffix(tag, "-labs")
	return tag == "1" || strings.HasPrefix(tag, "1.") || tag == "latest" || tag == "labs"
}
