// Command textconv is the reference for fastrace.rawtext: it converts text
// traces to the wire format with Go's own internal/trace/raw text reader
// and writer.
//
// It imports an internal package of the standard library, so it cannot be
// built as an ordinary program: tests/test_rawtext.py builds it as the
// package internal/trace/fastracetextconv through a `go build -overlay`
// file map that places this file inside GOROOT's source tree (nothing is
// written to GOROOT).
//
// Input: one hex-encoded text trace per line on stdin.  Output: one line
// per input, "OK <hex of the wire bytes>" or "ERR <hex of the error text>".
package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"internal/trace/raw"
)

func convert(text []byte) ([]byte, error) {
	tr, err := raw.NewTextReader(bytes.NewReader(text))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := raw.NewWriter(&buf, tr.Version())
	if err != nil {
		return nil, err
	}
	for {
		ev, err := tr.ReadEvent()
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		if err != nil {
			return nil, err
		}
		if err := w.WriteEvent(ev); err != nil {
			return nil, err
		}
	}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<28)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		text, err := hex.DecodeString(in.Text())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		wire, err := convert(text)
		if err != nil {
			fmt.Fprintln(out, "ERR", hex.EncodeToString([]byte(err.Error())))
			continue
		}
		fmt.Fprintln(out, "OK", hex.EncodeToString(wire))
	}
}
