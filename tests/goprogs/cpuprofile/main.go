// Command cpuprofile runs the CPU profiler while tracing, with two goroutines
// burning CPU, so the trace contains CPU samples with stacks.
package main

import (
	"flag"
	"io"
	"runtime/pprof"
	"sync"
	"time"

	"fastrace.test/goprogs/internal/harness"
)

func main() {
	out := harness.Output()
	dur := flag.Duration("dur", 300*time.Millisecond, "how long the busy goroutines run")
	harness.Parse(out)

	stop := harness.Start(*out)
	harness.Check(pprof.StartCPUProfile(io.Discard), "start CPU profile")
	var wg sync.WaitGroup
	deadline := time.Now().Add(*dur)
	results := make([]uint64, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i == 0 {
				results[i] = spinHash(deadline)
			} else {
				results[i] = spinFib(deadline)
			}
		}(i)
	}
	wg.Wait()
	pprof.StopCPUProfile()
	stop()
}

// spinHash and spinFib are two different hot functions so the samples have
// distinct stacks.
func spinHash(deadline time.Time) uint64 {
	h := uint64(14695981039346656037)
	for time.Now().Before(deadline) {
		for i := 0; i < 100000; i++ {
			h ^= uint64(i)
			h *= 1099511628211
		}
	}
	return h
}

func spinFib(deadline time.Time) uint64 {
	var s uint64
	for time.Now().Before(deadline) {
		s += fib(20)
	}
	return s
}

func fib(n int) uint64 {
	if n < 2 {
		return uint64(n)
	}
	return fib(n-1) + fib(n-2)
}
