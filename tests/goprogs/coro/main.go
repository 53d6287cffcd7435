// Command coro exercises coroutine switches (iter.Pull, Go 1.23+), which the
// trace records as direct goroutine-to-goroutine switches. Built with an
// older Go it exits with status 3 (unsupported).
package main

import (
	"flag"

	"fastrace.test/goprogs/internal/harness"
)

func main() {
	out := harness.Output()
	n := flag.Int("n", 30, "values pulled from each iterator")
	harness.Parse(out)
	run(*out, *n)
}
