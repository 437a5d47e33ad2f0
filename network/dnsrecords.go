package network

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// DNS records files: the names on one user network, which every container's resolver on it
// (its monitor, see package monitor) reads. One file per network, hosts-like:
//
//	10.89.0.2 web db 3f2a9c1d0b7e #3f2a9c1d0b7e...full owner key
//
// an address, its names (the first is the one a PTR lookup answers), and after "#" the key of
// the owner (a container id) whose lines an edit replaces. A file is only ever replaced whole,
// by a rename, under the network's lock: a reader sees the old one or the new one, never a
// torn one, so lookups go on while containers join and leave.

// DNSRecord is one address and its names.
type DNSRecord struct {
	Addr  string
	Names []string
}

// DNSRecordsPath is the records file of a network in dir.
func DNSRecordsPath(dir, networkID string) string { return filepath.Join(dir, networkID) }

// SetDNSRecords replaces owner's records on the network with recs (none: removes them).
func SetDNSRecords(dir, networkID, owner string, recs []DNSRecord) error {
	if err := checkDNSWord(networkID); err != nil || strings.Contains(networkID, "/") || networkID == "" {
		return fmt.Errorf("dns records: bad network id %q", networkID)
	}
	if err := checkDNSWord(owner); err != nil || owner == "" {
		return fmt.Errorf("dns records: bad owner %q", owner)
	}
	var add bytes.Buffer
	for _, r := range recs {
		a, err := netip.ParseAddr(r.Addr)
		if err != nil {
			return fmt.Errorf("dns records: %w", err)
		}
		if len(r.Names) == 0 {
			continue
		}
		fmt.Fprintf(&add, "%s", a.Unmap())
		for _, n := range r.Names {
			if err := checkDNSWord(n); err != nil || n == "" || strings.HasPrefix(n, "#") {
				return fmt.Errorf("dns records: bad name %q", n)
			}
			fmt.Fprintf(&add, " %s", n)
		}
		fmt.Fprintf(&add, " #%s\n", owner)
	}
	if add.Len() == 0 {
		if _, err := os.Stat(DNSRecordsPath(dir, networkID)); errors.Is(err, os.ErrNotExist) {
			return nil // nothing to remove (a network removed since has no file)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("dns records: %w", err)
	}
	unlock, err := lockFile(DNSRecordsPath(dir, networkID) + ".lock")
	if err != nil {
		return fmt.Errorf("dns records: %w", err)
	}
	defer unlock()
	path := DNSRecordsPath(dir, networkID)
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("dns records: %w", err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(old))
	for sc.Scan() {
		l := sc.Text()
		if _, key, ok := strings.Cut(l, " #"); ok && key == owner {
			continue
		}
		out.WriteString(l + "\n")
	}
	out.Write(add.Bytes())
	if bytes.Equal(out.Bytes(), old) {
		return nil
	}
	return writeAtomic(path, out.Bytes(), 0o644)
}

// RemoveDNSRecords removes a network's records file (network rm).
func RemoveDNSRecords(dir, networkID string) error {
	for _, p := range []string{DNSRecordsPath(dir, networkID), DNSRecordsPath(dir, networkID) + ".lock"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("dns records: %w", err)
		}
	}
	return nil
}

// ReadDNSRecords reads a records file, by owner.
func ReadDNSRecords(dir, networkID string) (map[string][]DNSRecord, error) {
	b, err := os.ReadFile(DNSRecordsPath(dir, networkID))
	if errors.Is(err, os.ErrNotExist) {
		return map[string][]DNSRecord{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("dns records: %w", err)
	}
	out := map[string][]DNSRecord{}
	for _, l := range strings.Split(string(b), "\n") {
		rec, key, ok := strings.Cut(l, " #")
		f := strings.Fields(rec)
		if !ok || len(f) < 2 {
			continue
		}
		out[key] = append(out[key], DNSRecord{Addr: f[0], Names: f[1:]})
	}
	return out, nil
}

// checkDNSWord refuses what would break a line of the file.
func checkDNSWord(s string) error {
	if strings.ContainsAny(s, " \t\r\n#\x00") {
		return errors.New("bad character")
	}
	return nil
}

func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

// writeAtomic writes a temporary file beside path and renames it over path.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// WriteDNSConfig writes a container's resolver config (read by its monitor at each query):
// its upstreams (ADDR or ADDR:PORT) and the records files of its user networks. Atomic.
func WriteDNSConfig(path string, upstreams, recordFiles []string) error {
	var b bytes.Buffer
	for _, u := range upstreams {
		if checkDNSWord(u) != nil {
			return fmt.Errorf("dns config: bad upstream %q", u)
		}
		fmt.Fprintf(&b, "upstream %s\n", u)
	}
	for _, r := range recordFiles {
		if strings.ContainsAny(r, "\n\x00") {
			return fmt.Errorf("dns config: bad path %q", r)
		}
		fmt.Fprintf(&b, "records %s\n", r)
	}
	if err := writeAtomic(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("dns config: %w", err)
	}
	return nil
}
