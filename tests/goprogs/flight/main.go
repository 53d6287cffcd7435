// Command flight uses the flight recorder (runtime/trace.FlightRecorder, Go
// 1.25+): it runs some work with the recorder on and writes a snapshot of the
// recent window into the -o file. Built with an older Go it exits with
// status 3 (unsupported).
package main

import (
	"flag"
	"time"

	"fastrace.test/goprogs/internal/harness"
)

func main() {
	out := harness.Output()
	dur := flag.Duration("dur", 300*time.Millisecond, "how long to run work before the snapshot")
	harness.Parse(out)
	run(*out, *dur)
}
