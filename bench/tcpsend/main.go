// Command tcpsend measures TCP throughput to a sink: it connects to
// ADDR, writes -mb MiB of zeros, half-closes, and waits for the sink to
// close (busybox `nc -l -p PORT >/dev/null` in a container), so that the
// time covers every byte received. It prints MB/s (10^6 bytes).
//
//	tcpsend -mb 512 127.0.0.1:8080
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"
)

func main() {
	mb := flag.Int("mb", 256, "MiB to send")
	wait := flag.Duration("wait", 5*time.Second, "how long to retry connecting (the sink may not listen yet)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: tcpsend [-mb N] HOST:PORT")
		os.Exit(2)
	}
	if err := send(flag.Arg(0), *mb, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "tcpsend:", err)
		os.Exit(1)
	}
}

func send(addr string, mb int, wait time.Duration) error {
	var c net.Conn
	var err error
	for deadline := time.Now().Add(wait); ; time.Sleep(50 * time.Millisecond) {
		if c, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return err
		}
	}
	defer c.Close()
	buf := make([]byte, 1<<20)
	start := time.Now()
	for range mb {
		if _, err := c.Write(buf); err != nil {
			return fmt.Errorf("write: %w", err)
		}
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		return err
	}
	// The sink closes once it has read everything.
	c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := io.Copy(io.Discard, c); err != nil {
		return fmt.Errorf("wait for the sink: %w", err)
	}
	d := time.Since(start)
	fmt.Printf("%.0f\n", float64(mb)*(1<<20)/1e6/d.Seconds())
	return nil
}
