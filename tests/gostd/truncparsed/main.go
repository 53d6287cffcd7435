// Command truncparsed is the batch form of `go tool trace -d=parsed`, for
// tests/test_truncate.py: it reads many (damaged) traces in one process
// instead of starting the trace tool once per file.
//
// It imports internal/trace, so tests build it as the package
// internal/trace/fastracetruncparsed through a `go build -overlay` file
// map (tests/gotool.py build_std_prog); nothing is written to GOROOT.
//
// Arguments: trace files.  For each file F it writes F.go-parsed with one
// line per event, as the trace tool prints them (Event.String), and
// F.go-error with the text of the error the reader ended with (empty when
// it read the whole trace).
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"internal/trace"
)

func parsed(data []byte) ([]byte, string) {
	var out bytes.Buffer
	r, err := trace.NewReader(bytes.NewReader(data))
	if err != nil {
		return out.Bytes(), err.Error()
	}
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			return out.Bytes(), ""
		}
		if err != nil {
			return out.Bytes(), err.Error()
		}
		fmt.Fprintln(&out, ev.String())
	}
}

func main() {
	for _, path := range os.Args[1:] {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		events, problem := parsed(data)
		if err := os.WriteFile(path+".go-parsed", events, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := os.WriteFile(path+".go-error", []byte(problem), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
}
