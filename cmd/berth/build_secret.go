package main

import (
	"encoding/csv"
	"fmt"
	"os"
	"strings"
)

// maxSecret bounds a --secret read into memory (BuildKit's limit is
// 500 KiB).
const maxSecret = 500 << 10

// parseSecrets reads --secret values (id=ID[,src=FILE|,env=VAR][,type=file|env]),
// buildx's form, into their contents by id.
func parseSecrets(vals []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, v := range vals {
		fields, err := csv.NewReader(strings.NewReader(v)).Read()
		if err != nil {
			return nil, fmt.Errorf("invalid secret %q: %w", v, err)
		}
		var id, src, env, typ string
		for _, f := range fields {
			k, val, ok := strings.Cut(f, "=")
			if !ok {
				return nil, fmt.Errorf("invalid secret %q: %q is not key=value", v, f)
			}
			switch strings.ToLower(k) {
			case "id":
				id = val
			case "src", "source":
				src = val
			case "env":
				env = val
			case "type":
				if val != "file" && val != "env" {
					return nil, fmt.Errorf("invalid secret %q: type must be file or env", v)
				}
				typ = val
			default:
				return nil, fmt.Errorf("invalid secret %q: unexpected key %q", v, k)
			}
		}
		if typ == "env" && env == "" {
			env, src = src, ""
		}
		if id == "" {
			id = env
			if id == "" {
				id = src
			}
		}
		if id == "" {
			return nil, fmt.Errorf("invalid secret %q: no id", v)
		}
		if src == "" && env == "" {
			// id alone: the variable of that name, else the file.
			if _, ok := os.LookupEnv(id); ok && typ != "file" {
				env = id
			} else {
				src = id
			}
		}
		var data []byte
		if env != "" {
			val, ok := os.LookupEnv(env)
			if !ok {
				return nil, fmt.Errorf("secret %s: environment variable %s is not set", id, env)
			}
			data = []byte(val)
		} else {
			fi, err := os.Stat(src)
			if err != nil {
				return nil, fmt.Errorf("secret %s: %w", id, err)
			}
			if fi.Size() > maxSecret {
				return nil, fmt.Errorf("secret %s: %s is larger than %d bytes", id, src, maxSecret)
			}
			if data, err = os.ReadFile(src); err != nil {
				return nil, fmt.Errorf("secret %s: %w", id, err)
			}
		}
		out[id] = data
	}
	return out, nil
}
