//go:build !go1.25

package main

import (
	"time"

	"fastrace.test/goprogs/internal/harness"
)

func run(out string, dur time.Duration) {
	harness.Unsupported("runtime/trace.FlightRecorder needs Go 1.25 or newer")
}
