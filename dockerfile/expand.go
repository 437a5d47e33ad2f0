package dockerfile

import (
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Env is a K=V list as the shell lexer reads variables from it (the
// last K wins).
type Env []string

// Get is the value of k.
func (e Env) Get(k string) (string, bool) {
	for i := len(e) - 1; i >= 0; i-- {
		if ek, v, ok := strings.Cut(e[i], "="); ok && ek == k {
			return v, true
		}
	}
	return "", false
}

// Keys are the variable names.
func (e Env) Keys() []string {
	var ks []string
	for _, kv := range e {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
	}
	return ks
}

// Expand substitutes $VAR and ${VAR...} in the words of the instructions
// that take them (and removes the quotes, as the Dockerfile's shell
// lexer does), from env. escape is the file's escape character.
func Expand(cmd instructions.Command, env []string, escape rune) error {
	c, ok := cmd.(instructions.SupportsSingleWordExpansion)
	if !ok {
		return nil
	}
	if escape == 0 {
		escape = '\\'
	}
	lex := shell.NewLex(escape)
	return c.Expand(func(word string) (string, error) {
		s, _, err := lex.ProcessWord(word, Env(env))
		return s, err
	})
}
