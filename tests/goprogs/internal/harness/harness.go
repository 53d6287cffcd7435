// Package harness holds the small pieces shared by the trace-producing
// programs: flag handling for the output path, starting and stopping the
// execution tracer, and the "unsupported on this Go version" exit code.
package harness

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime/trace"
)

// ExitUnsupported is the exit status a program uses when the Go version it
// was built with cannot produce the kind of trace it is meant to produce.
const ExitUnsupported = 3

// Output registers the -o flag (path of the trace file to write).
func Output() *string {
	return flag.String("o", "", "write the execution trace to this file (required)")
}

// Parse parses the command line and checks that -o was given.
func Parse(out *string) {
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "missing -o PATH")
		flag.Usage()
		os.Exit(2)
	}
}

// Fatal prints an error and exits with status 1.
func Fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "error: "+format+"\n", args...)
	os.Exit(1)
}

// Check exits with status 1 if err is not nil.
func Check(err error, what string) {
	if err != nil {
		Fatal("%s: %v", what, err)
	}
}

// Unsupported reports that this program cannot run on this Go version and
// exits with ExitUnsupported.
func Unsupported(why string) {
	fmt.Fprintln(os.Stderr, "unsupported:", why)
	os.Exit(ExitUnsupported)
}

// Start opens path, starts the execution tracer writing into it and returns
// a function that stops tracing and closes the file.
func Start(path string) (stop func()) {
	f, err := os.Create(path)
	Check(err, "create trace file")
	w := bufio.NewWriterSize(f, 64<<10)
	Check(trace.Start(w), "start trace")
	return func() {
		trace.Stop()
		Check(w.Flush(), "flush trace")
		Check(f.Close(), "close trace")
	}
}
