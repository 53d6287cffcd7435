//go:build go1.25

package main

import (
	"bufio"
	"context"
	"os"
	"runtime/trace"
	"sync"
	"time"

	"fastrace.test/goprogs/internal/harness"
)

func run(out string, dur time.Duration) {
	fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{
		MinAge:   time.Second,
		MaxBytes: 1 << 20,
	})
	harness.Check(fr.Start(), "start flight recorder")
	if !fr.Enabled() {
		harness.Fatal("flight recorder not enabled after Start")
	}

	ctx, task := trace.NewTask(context.Background(), "flight-work")
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range work {
				trace.WithRegion(ctx, "item", func() {
					s := 0
					for i := 0; i < 100000*(v%3+1); i++ {
						s += i
					}
					_ = s
				})
			}
		}()
	}
	i := 0
	for time.Now().Before(deadline) {
		work <- i
		i++
		if i%5 == 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	close(work)
	wg.Wait()
	trace.Log(ctx, "flight", "snapshot")
	task.End()

	f, err := os.Create(out)
	harness.Check(err, "create snapshot file")
	w := bufio.NewWriter(f)
	_, err = fr.WriteTo(w)
	harness.Check(err, "write snapshot")
	harness.Check(w.Flush(), "flush snapshot")
	harness.Check(f.Close(), "close snapshot")
	fr.Stop()
}
