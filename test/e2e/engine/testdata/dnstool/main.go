// Command dnstool is the DNS tests' peer, static so it runs in a busybox container:
//
//	dnstool -serve ADDR                  an upstream (UDP and TCP): answers every A query with
//	                                     192.0.2.77 (TEST-NET-1; -answer IP), others NOERROR
//	                                     with no answer
//	dnstool -lookup NAME -want IP -n N   N lookups of NAME (A; AAAA with -aaaa) at -server, one
//	                                     at a time (-gap apart), each must answer IP ("none": no
//	                                     address, NOERROR) within -timeout; -until FILE goes on
//	                                     past N until FILE exists. Prints
//	                                     "lookups N failures F median US p99 US" (microseconds)
//	dnstool -tcp -lookup NAME -want IP   one lookup over TCP
//	dnstool -garbage                     sends malformed datagrams to -server, then one good
//	                                     query for -lookup, which must be answered
//
// It speaks DNS on its own (a few lines of wire format) so that nothing depends on a libc's
// resolver.
package main

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"
)

func main() {
	serve := flag.String("serve", "", "answer as an upstream on this address")
	flag.StringVar(&upstreamAnswer, "answer", "192.0.2.77", "the upstream's answer to every A query")
	lookup := flag.String("lookup", "", "name to look up")
	want := flag.String("want", "", "the address the answer must hold")
	server := flag.String("server", "127.0.0.11:53", "resolver")
	n := flag.Int("n", 1, "lookups")
	until := flag.String("until", "", "go on past -n until this file exists")
	timeout := flag.Duration("timeout", 2*time.Second, "per lookup")
	garbage := flag.Bool("garbage", false, "send malformed datagrams first")
	flag.BoolVar(&aaaa, "aaaa", false, "look up AAAA records")
	flag.DurationVar(&gap, "gap", 0, "pause between lookups")
	tcp := flag.Bool("tcp", false, "one lookup over TCP")
	flag.Parse()
	var err error
	switch {
	case *serve != "":
		err = serveUpstream(*serve)
	case *tcp:
		err = lookupTCP(*server, *lookup, *want, *timeout)
	case *garbage:
		err = sendGarbage(*server, *lookup, *want, *timeout)
	case *lookup != "":
		err = lookups(*server, *lookup, *want, *n, *until, *timeout)
	default:
		err = errors.New("one of -serve, -lookup, -garbage")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dnstool:", err)
		os.Exit(1)
	}
}

var (
	upstreamAnswer string
	aaaa           bool
	gap            time.Duration
)

func query(id uint16, name string, qtype uint16) []byte {
	b := []byte{byte(id >> 8), byte(id), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0, byte(qtype>>8), byte(qtype), 0, 1)
}

// answerA returns the A records of a reply to id (its first answers, names compressed).
func answerA(b []byte, id uint16) ([]netip.Addr, error) {
	if len(b) < 12 || binary.BigEndian.Uint16(b) != id || b[2]&0x80 == 0 {
		return nil, fmt.Errorf("not a reply to %d", id)
	}
	if rc := b[3] & 15; rc != 0 {
		return nil, fmt.Errorf("rcode %d", rc)
	}
	off := 12
	skipName := func() error {
		for off < len(b) {
			l := int(b[off])
			switch {
			case l == 0:
				off++
				return nil
			case l&0xc0 == 0xc0:
				off += 2
				return nil
			}
			off += 1 + l
		}
		return errors.New("short name")
	}
	for range binary.BigEndian.Uint16(b[4:]) {
		if err := skipName(); err != nil {
			return nil, err
		}
		off += 4
	}
	var out []netip.Addr
	for range binary.BigEndian.Uint16(b[6:]) {
		if err := skipName(); err != nil {
			return nil, err
		}
		if off+10 > len(b) {
			return nil, errors.New("short answer")
		}
		typ, l := binary.BigEndian.Uint16(b[off:]), int(binary.BigEndian.Uint16(b[off+8:]))
		off += 10
		if off+l > len(b) {
			return nil, errors.New("short rdata")
		}
		if typ == 1 && l == 4 {
			out = append(out, netip.AddrFrom4([4]byte(b[off:off+4])))
		}
		if typ == 28 && l == 16 {
			out = append(out, netip.AddrFrom16([16]byte(b[off:off+16])))
		}
		off += l
	}
	return out, nil
}

func lookupOnce(c *net.UDPConn, name, want string, timeout time.Duration) error {
	id := uint16(rand.Uint32())
	qtype := uint16(1)
	if aaaa {
		qtype = 28
	}
	if _, err := c.Write(query(id, name, qtype)); err != nil {
		return err
	}
	buf := make([]byte, 1500)
	deadline := time.Now().Add(timeout)
	for {
		c.SetReadDeadline(deadline)
		n, err := c.Read(buf)
		if err != nil {
			return err
		}
		addrs, err := answerA(buf[:n], id)
		if err != nil && strings.HasPrefix(err.Error(), "not a reply") {
			continue // a late reply to an earlier query
		}
		if err != nil {
			return err
		}
		if want == "none" && len(addrs) == 0 {
			return nil
		}
		for _, a := range addrs {
			if a.String() == want {
				return nil
			}
		}
		return fmt.Errorf("%s: answers %v, want %s", name, addrs, want)
	}
}

func lookups(server, name, want string, n int, until string, timeout time.Duration) error {
	raddr, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		return err
	}
	c, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return err
	}
	defer c.Close()
	var lat []time.Duration
	failures := 0
	var firstErr error
	limit := time.Now().Add(2 * time.Minute) // a bound on the loop, whatever -until says
	for i := 0; ; i++ {
		if i >= n {
			if until == "" || time.Now().After(limit) {
				break
			}
			if _, err := os.Stat(until); err == nil {
				break
			}
		}
		if gap > 0 && i > 0 {
			time.Sleep(gap)
		}
		t0 := time.Now()
		if err := lookupOnce(c, name, want, timeout); err != nil {
			failures++
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		lat = append(lat, time.Since(t0))
	}
	slices.Sort(lat)
	med, p99 := time.Duration(0), time.Duration(0)
	if len(lat) > 0 {
		med, p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	fmt.Printf("lookups %d failures %d median %d p99 %d\n", len(lat)+failures, failures, med.Microseconds(), p99.Microseconds())
	if firstErr != nil {
		fmt.Printf("first failure: %v\n", firstErr)
	}
	return nil
}

func sendGarbage(server, name, want string, timeout time.Duration) error {
	raddr, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		return err
	}
	c, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		return err
	}
	defer c.Close()
	good := query(7, name, 1)
	bad := [][]byte{
		{},
		{1},
		good[:11],
		good[:12],
		good[:len(good)-1], // no class
		good[:len(good)-4], // no type or class
		append(slices.Clone(good[:12]), 0xc0, 0x0c, 0, 1, 0, 1),             // a pointer to itself
		append(slices.Clone(good[:12]), 63, 'a'),                            // a label past the end
		append(slices.Clone(good[:12]), 0x40, 0, 0, 1, 0, 1),                // label length 64
		func() []byte { b := slices.Clone(good); b[5] = 0; return b }(),     // no question
		func() []byte { b := slices.Clone(good); b[5] = 200; return b }(),   // 200 questions
		func() []byte { b := slices.Clone(good); b[2] |= 0x80; return b }(), // a response
		func() []byte { b := slices.Clone(good); b[2] |= 0x28; return b }(), // opcode 5
		func() []byte { // a name longer than 255
			b := slices.Clone(good[:12])
			for range 10 {
				b = append(b, 63)
				b = append(b, strings.Repeat("x", 63)...)
			}
			return append(b, 0, 0, 1, 0, 1)
		}(),
	}
	for range 200 {
		b := make([]byte, rand.IntN(600))
		for i := range b {
			b[i] = byte(rand.Uint32())
		}
		bad = append(bad, b)
	}
	for i, b := range bad {
		c.Write(b)
		if i%16 == 15 {
			// A burst past the socket's buffer would be dropped by the kernel, not the resolver.
			time.Sleep(5 * time.Millisecond)
		}
	}
	// Whatever came back for those is skipped by lookupOnce's id check.
	return lookupOnce(c, name, want, timeout)
}

func lookupTCP(server, name, want string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", server, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	q := query(9, name, 1)
	if _, err := c.Write(append([]byte{byte(len(q) >> 8), byte(len(q))}, q...)); err != nil {
		return err
	}
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		return err
	}
	b := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	addrs, err := answerA(b, 9)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(addrs, func(a netip.Addr) bool { return a.String() == want }) {
		return fmt.Errorf("%s over TCP: answers %v, want %s", name, addrs, want)
	}
	fmt.Println("tcp ok")
	return nil
}

// answer is the upstream's reply to q: A queries get 192.0.2.77, others no answer.
func answer(q []byte) []byte {
	n := len(q)
	if n < 12 {
		return nil
	}
	off := 12
	for off < n && q[off] != 0 {
		off += 1 + int(q[off])
	}
	off += 5
	if off > n {
		return nil
	}
	r := append([]byte(nil), q[:off]...)
	r[2], r[3] = 0x81, 0x80
	binary.BigEndian.PutUint16(r[6:], 0)
	binary.BigEndian.PutUint16(r[8:], 0)
	binary.BigEndian.PutUint16(r[10:], 0)
	if binary.BigEndian.Uint16(q[off-4:]) == 1 {
		binary.BigEndian.PutUint16(r[6:], 1)
		a := netip.MustParseAddr(upstreamAnswer).As4()
		r = append(r, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, a[0], a[1], a[2], a[3])
	}
	return r
}

// serveUpstream answers on addr over UDP and TCP.
func serveUpstream(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				for {
					var h [2]byte
					if _, err := io.ReadFull(c, h[:]); err != nil {
						return
					}
					q := make([]byte, binary.BigEndian.Uint16(h[:]))
					if _, err := io.ReadFull(c, q); err != nil {
						return
					}
					r := answer(q)
					c.Write(append([]byte{byte(len(r) >> 8), byte(len(r))}, r...))
				}
			}()
		}
	}()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return err
		}
		if r := answer(buf[:n]); r != nil {
			pc.WriteTo(r, from)
		}
	}
}
