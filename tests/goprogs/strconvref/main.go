// Command strconvref is the reference for fastrace's Go string quoting: it
// reads one hex-encoded byte string per line on stdin and, per line,
//
//	strconvref quote     prints strconv.Quote of it (fastrace.goquote);
//	strconvref unquote   applies strconv.Unquote to it and prints "=" and the
//	                     hex of the result, or "!" when Unquote returns an
//	                     error (fastrace.rawtext.go_unquote).
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
)

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "quote" && os.Args[1] != "unquote") {
		fmt.Fprintln(os.Stderr, "usage: strconvref quote|unquote")
		os.Exit(2)
	}
	quote := os.Args[1] == "quote"
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		b, err := hex.DecodeString(in.Text())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if quote {
			fmt.Fprintln(out, strconv.Quote(string(b)))
			continue
		}
		s, err := strconv.Unquote(string(b))
		if err != nil {
			fmt.Fprintln(out, "!")
			continue
		}
		// A leading "=" keeps the empty result distinct from a blank line.
		fmt.Fprintln(out, "="+hex.EncodeToString([]byte(s)))
	}
}
