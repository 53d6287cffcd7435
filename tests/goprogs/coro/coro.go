//go:build go1.23

package main

import (
	"iter"
	"sync"

	"fastrace.test/goprogs/internal/harness"
)

// count yields 0, 1, 2, ... until the consumer stops.
func count(limit int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for i := 0; i < limit; i++ {
			if !yield(i) {
				return
			}
		}
	}
}

// pairs yields key/value pairs, for iter.Pull2.
func pairs(limit int) iter.Seq2[int, string] {
	return func(yield func(int, string) bool) {
		for i := 0; i < limit; i++ {
			if !yield(i, "v") {
				return
			}
		}
	}
}

func run(out string, n int) {
	stop := harness.Start(out)

	// Pull every value until the iterator is exhausted.
	next, done := iter.Pull(count(n))
	sum := 0
	for {
		v, ok := next()
		if !ok {
			break
		}
		sum += v
	}
	done()

	// Stop early: the coroutine is ended before the sequence is finished.
	next2, stop2 := iter.Pull2(pairs(n))
	for i := 0; i < n/3; i++ {
		next2()
	}
	stop2()

	// Two coroutines used from two goroutines at once.
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nx, dn := iter.Pull(count(n))
			defer dn()
			for {
				if _, ok := nx(); !ok {
					return
				}
			}
		}()
	}
	wg.Wait()

	// range-over-func (no coroutine) for comparison.
	for v := range count(5) {
		sum += v
	}
	stop()
	_ = sum
}
