// Command syscalls exercises blocking system calls and the network poller:
// an os.Pipe, a loopback TCP echo, timers and sleeps, and a file write/read.
package main

import (
	"bufio"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"fastrace.test/goprogs/internal/harness"
)

func main() {
	out := harness.Output()
	msgs := flag.Int("msgs", 5, "messages sent through the pipe and the TCP echo")
	harness.Parse(out)

	stop := harness.Start(*out)
	pipe(*msgs)
	tcpEcho(*msgs)
	timers()
	file()
	blockingSyscalls()
	stop()
}

// pipe writes lines into an os.Pipe from one goroutine and reads them on
// another.
func pipe(n int) {
	r, w, err := os.Pipe()
	harness.Check(err, "pipe")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
		}
		harness.Check(sc.Err(), "pipe read")
		r.Close()
	}()
	for i := 0; i < n; i++ {
		_, err := w.Write([]byte("line through the pipe\n"))
		harness.Check(err, "pipe write")
		time.Sleep(time.Millisecond)
	}
	w.Close()
	wg.Wait()
}

// tcpEcho runs an echo server on 127.0.0.1 and sends it a few messages.
func tcpEcho(n int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	harness.Check(err, "listen")
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		harness.Check(err, "accept")
		defer c.Close()
		_, err = io.Copy(c, c)
		harness.Check(err, "echo")
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	harness.Check(err, "dial")
	buf := make([]byte, 64)
	for i := 0; i < n; i++ {
		msg := []byte("ping over loopback")
		_, err := c.Write(msg)
		harness.Check(err, "tcp write")
		_, err = io.ReadFull(c, buf[:len(msg)])
		harness.Check(err, "tcp read")
	}
	c.Close()
	<-done
	ln.Close()
}

// timers uses time.Sleep, time.After, a Ticker and a stopped Timer.
func timers() {
	time.Sleep(2 * time.Millisecond)
	select {
	case <-time.After(3 * time.Millisecond):
	}
	t := time.NewTicker(time.Millisecond)
	for i := 0; i < 3; i++ {
		<-t.C
	}
	t.Stop()
	never := time.NewTimer(time.Hour)
	never.Stop()
	fired := make(chan struct{})
	time.AfterFunc(time.Millisecond, func() { close(fired) })
	<-fired
}

// file writes a small file in the temporary directory, reads it back and
// removes it.
func file() {
	dir, err := os.MkdirTemp("", "fastrace-syscalls-")
	harness.Check(err, "mkdtemp")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "data.txt")
	data := make([]byte, 8192)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	harness.Check(os.WriteFile(p, data, 0o644), "write file")
	got, err := os.ReadFile(p)
	harness.Check(err, "read file")
	if len(got) != len(data) {
		harness.Fatal("read %d bytes, wrote %d", len(got), len(data))
	}
	f, err := os.Open(p)
	harness.Check(err, "open")
	harness.Check(f.Sync(), "sync") // fsync on a read-only fd is fine on Linux
	f.Close()
}

// blockingSyscalls makes system calls that block in the kernel for a few
// milliseconds (a read on a blocking pipe, nanosleep), long enough for the
// runtime to take the P away from the thread in the syscall.
func blockingSyscalls() {
	var fds [2]int
	harness.Check(syscall.Pipe(fds[:]), "raw pipe")
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 16)
		_, err := syscall.Read(fds[0], buf) // blocks until the write below
		harness.Check(err, "raw read")
	}()
	time.Sleep(5 * time.Millisecond)
	_, err := syscall.Write(fds[1], []byte("wake"))
	harness.Check(err, "raw write")
	<-done
	syscall.Close(fds[0])
	syscall.Close(fds[1])
	// The runtime takes the P of a thread whose syscall has gone on for more
	// than 10 ms even when there is nothing else to run; sysmon may look only
	// every 10 ms, so block well past that.
	ts := syscall.NsecToTimespec(int64(30 * time.Millisecond))
	harness.Check(syscall.Nanosleep(&ts, nil), "nanosleep")
}
