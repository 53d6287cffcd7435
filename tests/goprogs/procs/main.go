// Command procs changes GOMAXPROCS while goroutines are running and triggers
// stop-the-world pauses of several kinds (ReadMemStats, GC, SetGCPercent,
// FreeOSMemory, GOMAXPROCS itself).
package main

import (
	"flag"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"fastrace.test/goprogs/internal/harness"
)

func main() {
	out := harness.Output()
	steps := flag.String("procs", "1,2,4,1,3,2", "GOMAXPROCS values to go through")
	harness.Parse(out)
	values := parseList(*steps)

	orig := runtime.GOMAXPROCS(0)
	stop := harness.Start(*out)

	// Background goroutines that keep the Ps busy while they change.
	var quit atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := 0
			for !quit.Load() {
				for j := 0; j < 300000; j++ {
					x += j
				}
				runtime.Gosched()
			}
			_ = x
		}()
	}

	var ms runtime.MemStats
	for i, v := range values {
		runtime.GOMAXPROCS(v)
		time.Sleep(2 * time.Millisecond)
		switch i % 4 {
		case 0:
			runtime.ReadMemStats(&ms)
		case 1:
			runtime.GC()
		case 2:
			old := debug.SetGCPercent(50)
			debug.SetGCPercent(old)
		case 3:
			debug.FreeOSMemory()
		}
	}
	quit.Store(true)
	wg.Wait()
	runtime.GOMAXPROCS(orig)
	stop()
}

func parseList(s string) []int {
	var out []int
	n, have := 0, false
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if !have || n < 1 {
				harness.Fatal("bad -procs list %q", s)
			}
			out = append(out, n)
			n, have = 0, false
			continue
		}
		c := s[i]
		if c < '0' || c > '9' {
			harness.Fatal("bad -procs list %q", s)
		}
		n, have = n*10+int(c-'0'), true
	}
	return out
}
