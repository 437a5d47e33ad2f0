package importer

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ApplyChanges applies Dockerfile instructions, as `docker import
// --change` takes them, to cfg: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
// STOPSIGNAL, USER, VOLUME, WORKDIR. Others are refused.
func ApplyChanges(cfg *v1.Config, changes []string) error {
	for _, c := range changes {
		if err := applyChange(cfg, c); err != nil {
			return fmt.Errorf("--change %q: %w", c, err)
		}
	}
	return nil
}

func applyChange(cfg *v1.Config, change string) error {
	change = strings.TrimSpace(change)
	instr, rest, _ := strings.Cut(change, " ")
	rest = strings.TrimSpace(rest)
	if instr == "" {
		return fmt.Errorf("empty instruction")
	}
	if rest == "" {
		return fmt.Errorf("%s needs an argument", strings.ToUpper(instr))
	}
	switch strings.ToUpper(instr) {
	case "CMD":
		cmd, err := commandForm(rest)
		if err != nil {
			return err
		}
		cfg.Cmd = cmd
	case "ENTRYPOINT":
		ep, err := commandForm(rest)
		if err != nil {
			return err
		}
		// As in a Dockerfile, a new entrypoint drops the inherited CMD.
		cfg.Entrypoint, cfg.Cmd = ep, nil
	case "ENV":
		kvs, err := keyValues(rest)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			cfg.Env = setEnv(cfg.Env, kv[0], kv[1])
		}
	case "LABEL":
		kvs, err := keyValues(rest)
		if err != nil {
			return err
		}
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range kvs {
			cfg.Labels[kv[0]] = kv[1]
		}
	case "EXPOSE":
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range strings.Fields(rest) {
			port, proto, found := strings.Cut(p, "/")
			if !found {
				proto = "tcp"
			}
			if !isPort(port) || (proto != "tcp" && proto != "udp" && proto != "sctp") {
				return fmt.Errorf("invalid port %q", p)
			}
			cfg.ExposedPorts[port+"/"+proto] = struct{}{}
		}
	case "VOLUME":
		vols := strings.Fields(rest)
		if strings.HasPrefix(rest, "[") {
			if err := json.Unmarshal([]byte(rest), &vols); err != nil {
				return fmt.Errorf("VOLUME: invalid JSON array: %w", err)
			}
		}
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range vols {
			cfg.Volumes[v] = struct{}{}
		}
	case "WORKDIR":
		if !path.IsAbs(rest) {
			base := cfg.WorkingDir
			if base == "" {
				base = "/"
			}
			rest = path.Join(base, rest)
		}
		cfg.WorkingDir = path.Clean(rest)
	case "USER":
		cfg.User = rest
	case "STOPSIGNAL":
		cfg.StopSignal = rest
	default:
		return fmt.Errorf("unsupported instruction %s (import takes CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)", strings.ToUpper(instr))
	}
	return nil
}

// commandForm reads the exec form (a JSON array) or the shell form,
// which runs through /bin/sh -c.
func commandForm(s string) ([]string, error) {
	if strings.HasPrefix(s, "[") {
		var out []string
		if err := json.Unmarshal([]byte(s), &out); err != nil {
			return nil, fmt.Errorf("invalid JSON array: %w", err)
		}
		return out, nil
	}
	return []string{"/bin/sh", "-c", s}, nil
}

// keyValues reads "K=V K2="v 2"" or the old single-pair form "K V".
func keyValues(s string) ([][2]string, error) {
	words, err := splitWords(s)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(words[0], "=") {
		k, v, _ := strings.Cut(s, " ")
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// splitWords splits on blanks; double or single quotes keep blanks in a
// word and are removed, a backslash escapes the next character.
func splitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		quote rune
		in    bool
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == '\\' && quote != '\'' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			in = true
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote")
	}
	if in {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("no KEY=VALUE")
	}
	return words, nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

func isPort(s string) bool {
	lo, hi, isRange := strings.Cut(s, "-")
	ok := func(p string) bool {
		if p == "" || len(p) > 5 {
			return false
		}
		n := 0
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
			n = n*10 + int(c-'0')
		}
		return n > 0 && n < 65536
	}
	return ok(lo) && (!isRange || ok(hi))
}
