// Command udpecho is the network tests' UDP peer (busybox has no UDP
// server or client here): `udpecho -l :PORT` answers every datagram
// with "pong FROM-ADDRESS DATA"; `udpecho -c HOST:PORT DATA` sends one
// and prints the answer; `udpecho -t :PORT` answers every TCP connection
// with "from FROM-ADDRESS" (the source address a published port kept).
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	listen := flag.String("l", "", "serve on this address")
	client := flag.String("c", "", "send to this address")
	tcp := flag.String("t", "", "serve TCP on this address")
	flag.Parse()
	switch {
	case *tcp != "":
		l, err := net.Listen("tcp4", *tcp)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for {
			c, err := l.Accept()
			if err != nil {
				continue
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			c.Write([]byte("from " + host + "\n"))
			c.Close()
		}
	case *listen != "":
		pc, err := net.ListenPacket("udp4", *listen)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				continue
			}
			host, _, _ := net.SplitHostPort(from.String())
			pc.WriteTo([]byte("pong "+host+" "+string(buf[:n])), from)
		}
	case *client != "":
		c, err := net.Dial("udp4", *client)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		buf := make([]byte, 1500)
		// Retried: the server may not listen yet.
		for range 50 {
			c.Write([]byte(flag.Arg(0)))
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if n, err := c.Read(buf); err == nil {
				fmt.Println(string(buf[:n]))
				return
			}
		}
		fmt.Fprintln(os.Stderr, "no answer")
		os.Exit(1)
	}
}
