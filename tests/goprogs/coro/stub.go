//go:build !go1.23

package main

import "fastrace.test/goprogs/internal/harness"

func run(out string, n int) {
	harness.Unsupported("iter.Pull needs Go 1.23 or newer")
}
