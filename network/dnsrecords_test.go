package network

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func TestDNSRecords(t *testing.T) {
	dir := t.TempDir()
	const net = "n1"
	web := []DNSRecord{{Addr: "10.89.0.2", Names: []string{"web", "www", "aaaaaaaaaaaa"}}, {Addr: "fd00::2", Names: []string{"web", "www", "aaaaaaaaaaaa"}}}
	db := []DNSRecord{{Addr: "10.89.0.3", Names: []string{"db", "bbbbbbbbbbbb"}}}
	if err := SetDNSRecords(dir, net, "A", web); err != nil {
		t.Fatal(err)
	}
	if err := SetDNSRecords(dir, net, "B", db); err != nil {
		t.Fatal(err)
	}
	got, err := ReadDNSRecords(dir, net)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string][]DNSRecord{"A": web, "B": db}; !reflect.DeepEqual(got, want) {
		t.Fatalf("records %v, want %v", got, want)
	}
	b, _ := os.ReadFile(DNSRecordsPath(dir, net))
	if want := "10.89.0.2 web www aaaaaaaaaaaa #A\nfd00::2 web www aaaaaaaaaaaa #A\n10.89.0.3 db bbbbbbbbbbbb #B\n"; string(b) != want {
		t.Fatalf("file %q, want %q", b, want)
	}
	// Replacing an owner's lines leaves the others'; none removes them.
	if err := SetDNSRecords(dir, net, "A", web[:1]); err != nil {
		t.Fatal(err)
	}
	if err := SetDNSRecords(dir, net, "B", nil); err != nil {
		t.Fatal(err)
	}
	got, _ = ReadDNSRecords(dir, net)
	if want := map[string][]DNSRecord{"A": web[:1]}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after edits %v, want %v", got, want)
	}
	// Bad input is refused, and the file is unchanged.
	for _, bad := range []struct {
		owner string
		recs  []DNSRecord
	}{
		{"C", []DNSRecord{{Addr: "not-an-ip", Names: []string{"x"}}}},
		{"C", []DNSRecord{{Addr: "10.0.0.1", Names: []string{"two words"}}}},
		{"C", []DNSRecord{{Addr: "10.0.0.1", Names: []string{"x\n10.0.0.9 evil"}}}},
		{"C", []DNSRecord{{Addr: "10.0.0.1", Names: []string{"#x"}}}},
		{"bad owner", nil},
	} {
		if err := SetDNSRecords(dir, net, bad.owner, bad.recs); err == nil {
			t.Errorf("SetDNSRecords(%q, %v) took it", bad.owner, bad.recs)
		}
	}
	if err := SetDNSRecords(dir, "../x", "A", nil); err == nil {
		t.Error("a network id with a slash was taken")
	}
	if b2, _ := os.ReadFile(DNSRecordsPath(dir, net)); string(b2) != "10.89.0.2 web www aaaaaaaaaaaa #A\n" {
		t.Errorf("file after refused edits: %q", b2)
	}
	if err := RemoveDNSRecords(dir, net); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left after remove: %v", ents)
	}
}

// Concurrent editors (one per container) each keep their own lines: the lock serialises the
// read-modify-rename, and no reader sees a file without the lines of an owner not being edited.
func TestDNSRecordsConcurrent(t *testing.T) {
	dir := t.TempDir()
	if err := SetDNSRecords(dir, "n", "stable", []DNSRecord{{Addr: "10.0.0.1", Names: []string{"stable"}}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var torn int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := os.ReadFile(filepath.Join(dir, "n"))
			if err != nil || !strings.Contains(string(b), "10.0.0.1 stable #stable\n") {
				torn++
			}
		}
	}()
	var ew sync.WaitGroup
	for i := range 8 {
		ew.Add(1)
		go func() {
			defer ew.Done()
			owner := string(rune('a' + i))
			for j := range 50 {
				recs := []DNSRecord{{Addr: "10.0.1." + string(rune('1'+i)), Names: []string{owner}}}
				if j%2 == 1 {
					recs = nil
				}
				if err := SetDNSRecords(dir, "n", owner, recs); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	ew.Wait()
	close(stop)
	wg.Wait()
	if torn > 0 {
		t.Errorf("%d reads missed the stable line", torn)
	}
	got, _ := ReadDNSRecords(dir, "n")
	if len(got) != 1 {
		t.Errorf("left: %v", got)
	}
}

func TestWriteDNSConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "dns.conf")
	if err := WriteDNSConfig(p, []string{"192.0.2.53", "127.0.0.1:5353"}, []string{"/r/n1"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	if want := "upstream 192.0.2.53\nupstream 127.0.0.1:5353\nrecords /r/n1\n"; string(b) != want {
		t.Fatalf("%q, want %q", b, want)
	}
	if err := WriteDNSConfig(p, []string{"1.2.3.4\nrecords /etc"}, nil); err == nil {
		t.Error("a newline in an upstream was taken")
	}
}
