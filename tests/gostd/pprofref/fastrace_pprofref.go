// Batch driver for the reference latency profiles of tests/test_pprof.py.
//
// This file is compiled INTO Go's own cmd/trace (package main), placed in
// its source directory by a `go build -overlay` file map (see
// tests/gotool.py build_std_prog; GOROOT is never written to).  It is not
// called main.go because that would replace cmd/trace's own main.go.  Its
// init function runs before cmd/trace's main: when FASTRACE_PPROFREF names
// an output directory it takes over and, for every trace file given as an
// argument, does what `go tool trace -pprof=TYPE FILE` does for the four
// types (the same parseTrace, pprofByGoroutine, computePprof* and
// traceviewer.BuildProfile calls), parsing each file once instead of four
// times, and exits.  Without the variable the binary is cmd/trace as is.
//
// For argument number i it writes into the directory:
//   - i.TYPE.pb.gz: the profile, exactly the bytes `-pprof=TYPE` prints;
//   - i.TYPE.err: the error text instead, where the tool would fail;
//   - i.cpu.txt: every StackSample event of the trace as
//     `go tool trace -d=parsed` prints it (ev.String()), one per line.
package main

import (
	"bufio"
	"fmt"
	"internal/trace"
	"internal/trace/traceviewer"
	"net/http"
	"os"
	"path/filepath"
)

func init() {
	dir := os.Getenv("FASTRACE_PPROFREF")
	if dir == "" {
		return
	}
	for i, path := range os.Args[1:] {
		if err := fastraceProfiles(dir, i, path); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
			os.Exit(1)
		}
	}
	os.Exit(0)
}

func fastraceProfiles(dir string, i int, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	parsed, err := parseTrace(f, fi.Size())
	if err != nil {
		return os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.parse.err", i)), []byte(err.Error()), 0o644)
	}
	computes := map[string]computePprofFunc{
		"net":     computePprofIO(),
		"sync":    computePprofBlock(),
		"syscall": computePprofSyscall(),
		"sched":   computePprofSched(),
	}
	for name, compute := range computes {
		base := filepath.Join(dir, fmt.Sprintf("%d.%s", i, name))
		records, err := pprofByGoroutine(compute, parsed)(&http.Request{})
		if err != nil {
			if err := os.WriteFile(base+".err", []byte(err.Error()), 0o644); err != nil {
				return err
			}
			continue
		}
		out, err := os.Create(base + ".pb.gz")
		if err != nil {
			return err
		}
		if err := traceviewer.BuildProfile(records).Write(out); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	}
	out, err := os.Create(filepath.Join(dir, fmt.Sprintf("%d.cpu.txt", i)))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	for j := range parsed.events {
		if parsed.events[j].Kind() == trace.EventStackSample {
			fmt.Fprintln(w, parsed.events[j].String())
		}
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
