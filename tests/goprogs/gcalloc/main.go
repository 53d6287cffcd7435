// Command gcalloc allocates heavily from a few goroutines and forces
// collections with runtime.GC, so the trace has GC cycles, sweeping, mark
// assists and heap size/goal metrics. Run it with GODEBUG=traceallocfree=1
// (Go 1.23+) to also get span, object and goroutine-stack alloc/free events.
package main

import (
	"flag"
	"runtime"
	"runtime/debug"
	"sync"

	"fastrace.test/goprogs/internal/harness"
)

type node struct {
	next  *node
	value [6]int64
}

var keep [][]byte

func main() {
	out := harness.Output()
	workers := flag.Int("workers", 2, "allocating goroutines")
	objects := flag.Int("objects", 4000, "small objects allocated per worker per round")
	rounds := flag.Int("rounds", 3, "rounds of allocation, each ended by runtime.GC")
	procs := flag.Int("procs", 1, "GOMAXPROCS (0: leave unchanged)")
	harness.Parse(out)

	// With more than one P the background sweeper can spin, yielding again
	// and again while another goroutine (or runtime.GC) is sweeping, and
	// each yield is two trace events: the trace then grows from ~12 KB to
	// anything up to several hundred KB from one run to the next. With one P
	// nothing sweeps concurrently, and the trace still has GC cycles, mark
	// assists, idle/fractional mark workers and sweeping.
	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}

	// A small GC percent makes the allocating goroutines outrun the
	// collector, which makes the runtime ask them for mark assists.
	old := debug.SetGCPercent(10)
	defer debug.SetGCPercent(old)

	stop := harness.Start(*out)
	for r := 0; r < *rounds; r++ {
		var wg sync.WaitGroup
		for w := 0; w < *workers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				allocate(*objects, w+r)
			}(w)
		}
		wg.Wait()
		runtime.GC()
	}
	// Drop everything and collect once more so a lot gets swept and freed.
	keep = nil
	runtime.GC()
	stop()
}

var sink *node

// allocate builds linked lists (pointerful objects the collector must scan),
// byte slices of mixed size (some large, taking their own spans), and drops
// most of them right away.
func allocate(n, seed int) {
	var head *node
	for i := 0; i < n; i++ {
		head = &node{next: head}
		head.value[0] = int64(i)
		if i%64 == 0 {
			head = nil // let the list die in pieces
		}
		if i%50 == 0 {
			size := 512 << uint((i/50+seed)%7) // 512 B .. 32 KiB
			b := make([]byte, size)
			b[0] = byte(i)
			if i%500 == 0 {
				mu.Lock()
				keep = append(keep, b)
				mu.Unlock()
			}
		}
	}
	// One large object per call (over 32 KiB, so a dedicated span).
	big := make([]byte, 80<<10)
	big[1] = 1
	sink = head
}

var mu sync.Mutex
