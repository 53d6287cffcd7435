// Command cgo exercises cgo: calls from Go into C, callbacks from C into Go on
// the calling thread, and callbacks from a pthread created in C, which the
// runtime has to adopt (it shows up as a goroutine created in a syscall).
package main

// #include "cb.h"
import "C"

import (
	"flag"
	"sync"

	"fastrace.test/goprogs/internal/harness"
)

func main() {
	out := harness.Output()
	n := flag.Int("n", 4, "callbacks per C thread")
	threads := flag.Int("threads", 2, "C threads started one after another")
	harness.Parse(out)

	stop := harness.Start(*out)
	sum := 0
	for i := 0; i < 50; i++ {
		sum += int(C.c_add(C.int(i), 1))
	}
	C.c_sleep_us(2000)
	sum += int(C.call_back_here(C.int(*n)))
	for t := 0; t < *threads; t++ {
		r := int(C.run_foreign_thread(C.int(*n)))
		if r < 0 {
			harness.Fatal("pthread_create failed")
		}
		sum += r
	}
	// Two goroutines calling into C at the same time.
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			C.run_foreign_thread(2)
			C.c_sleep_us(500)
		}()
	}
	wg.Wait()
	stop()
	if callbacks == 0 || sum == 0 {
		harness.Fatal("no callbacks ran")
	}
}
