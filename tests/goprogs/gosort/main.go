// Command gosort is the reference for fastrace's port of Go's unstable sort:
// each input line is a list of integer keys; it prints the original
// positions in the order slices.SortFunc (comparing keys only) leaves them.
package main

import (
	"bufio"
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

type item struct {
	key int64
	pos int
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<26)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		fields := strings.Fields(in.Text())
		items := make([]item, len(fields))
		for i, f := range fields {
			k, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			items[i] = item{k, i}
		}
		slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.key, b.key) })
		for i, it := range items {
			if i > 0 {
				out.WriteByte(' ')
			}
			out.WriteString(strconv.Itoa(it.pos))
		}
		out.WriteByte('\n')
	}
}
