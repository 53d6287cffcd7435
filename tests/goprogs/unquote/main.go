// Command unquote is the reference for fastrace.rawtext.go_unquote: it reads
// one hex-encoded byte string per line on stdin, applies strconv.Unquote to
// it and prints the hex of the result, or "!" when Unquote returns an error.
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
)

func main() {
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
		s, err := strconv.Unquote(string(b))
		if err != nil {
			fmt.Fprintln(out, "!")
			continue
		}
		// A leading "=" keeps the empty result distinct from a blank line.
		fmt.Fprintln(out, "="+hex.EncodeToString([]byte(s)))
	}
}
