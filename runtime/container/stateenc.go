package container

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// encodeSaved encodes the state as json.Marshal(&s) would decode back, without reflection:
// create saves the state twice, and encoding/json's first Marshal of the saved type builds
// encoders for it and everything it reaches, then re-compacts the kept config.json (~0.2 ms
// of a start together). The config and the hooks are kept as raw JSON and copied as they are.
//
// TestEncodeSavedCoversEveryField fills every field of saved by reflection and checks that
// the decoded result is the same: a field added to saved without a line here fails it.
func encodeSaved(s *saved) ([]byte, error) {
	if (s.RawSpec != nil && !json.Valid(s.RawSpec)) || (s.HooksJSON != nil && !json.Valid(s.HooksJSON)) {
		// json.Marshal's error, as before.
		return json.Marshal(s)
	}
	b := make([]byte, 0, 512+len(s.RawSpec))
	b = append(b, `{"id":`...)
	b = appendJSONString(b, s.ID)
	b = append(b, `,"bundle":`...)
	b = appendJSONString(b, s.Bundle)
	b = append(b, `,"rootfs":`...)
	b = appendJSONString(b, s.Rootfs)
	b = append(b, `,"pid":`...)
	b = strconv.AppendInt(b, int64(s.Pid), 10)
	b = append(b, `,"pid_start":`...)
	b = strconv.AppendUint(b, s.PidStart, 10)
	b = append(b, `,"created":`...)
	created, err := s.Created.MarshalJSON()
	if err != nil {
		return nil, err
	}
	b = append(b, created...)
	b = appendStringMap(b, "cgroup_paths", s.CgroupPaths)
	b = appendStringMap(b, "annotations", s.Annotations)
	if s.Owner != "" {
		b = append(b, `,"owner":`...)
		b = appendJSONString(b, s.Owner)
	}
	b = append(b, `,"config":`...)
	if s.RawSpec == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, s.RawSpec...)
	}
	// Always written, "null" without hooks: a state without the key comes from an older
	// binary (see saved.HooksJSON).
	b = append(b, `,"hooks":`...)
	if s.HooksJSON == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, s.HooksJSON...)
	}
	b = appendStringMap(b, "namespace_paths", s.NsPaths)
	b = appendBool(b, "started", s.StartedOnce)
	b = appendBool(b, "cgroups_owned", s.CgroupsOwned)
	b = appendBool(b, "no_new_keyring", s.NoNewKeyring)
	b = appendBool(b, "host_mounts", s.HostMounts)
	if len(s.KeepMounts) > 0 {
		b = append(b, `,"keep_mounts":[`...)
		for i, id := range s.KeepMounts {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(id), 10)
		}
		b = append(b, ']')
	}
	b = appendBool(b, "restore_rootfs_rw", s.RestoreRootfsRW)
	return append(b, '}'), nil
}

// appendStringMap appends ,"key":{...} with sorted keys, or nothing for an empty map
// (omitempty).
func appendStringMap(b []byte, key string, m map[string]string) []byte {
	if len(m) == 0 {
		return b
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':', '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendJSONString(b, m[k])
	}
	return append(b, '}')
}

// appendBool appends ,"key":true, or nothing for false (omitempty).
func appendBool(b []byte, key string, v bool) []byte {
	if !v {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	return append(b, `":true`...)
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as with
// encoding/json.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
