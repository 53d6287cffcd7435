// Command long traces low-rate activity for a few seconds so the trace spans
// several generations (the runtime starts a new one about every second).
package main

import (
	"context"
	"flag"
	"runtime/trace"
	"sync"
	"time"

	"fastrace.test/goprogs/internal/harness"
)

func main() {
	out := harness.Output()
	dur := flag.Duration("dur", 2800*time.Millisecond, "how long to trace")
	tick := flag.Duration("tick", 50*time.Millisecond, "interval between bursts of work")
	harness.Parse(out)

	stop := harness.Start(*out)
	ctx, task := trace.NewTask(context.Background(), "long")

	// A goroutine that lives across all generations, blocked most of the time.
	wake := make(chan int)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for v := range wake {
			trace.Logf(ctx, "tick", "%d", v)
		}
	}()

	t := time.NewTicker(*tick)
	deadline := time.Now().Add(*dur)
	n := 0
	for time.Now().Before(deadline) {
		<-t.C
		n++
		wake <- n
		if n%10 == 0 {
			// Every so often, a short-lived goroutine and a region.
			trace.WithRegion(ctx, "burst", func() {
				done := make(chan struct{})
				go func() {
					s := 0
					for i := 0; i < 10000; i++ {
						s += i
					}
					_ = s
					close(done)
				}()
				<-done
			})
		}
	}
	t.Stop()
	close(wake)
	wg.Wait()
	task.End()
	stop()
}
