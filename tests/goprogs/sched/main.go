// Command sched exercises the scheduler: goroutine creation and exit,
// blocking and unblocking on channels, mutexes, condition variables, select,
// WaitGroup and runtime.Gosched.
package main

import (
	"flag"
	"runtime"
	"sync"
	"time"

	"fastrace.test/goprogs/internal/harness"
)

func main() {
	out := harness.Output()
	workers := flag.Int("workers", 40, "number of short-lived goroutines")
	rounds := flag.Int("rounds", 50, "ping-pong round trips")
	pace := flag.Int("pace", 0, "sleep 1ms after every this many round trips (0: never), "+
		"for a steady trace rate over several generations")
	harness.Parse(out)

	stop := harness.Start(*out)
	pingPong(*rounds, *pace)
	shortLived(*workers)
	mutexContention(4, 25)
	pipeline(3, 30)
	selectLoop(40)
	condBroadcast(4)
	stop()
}

// pingPong bounces a token between two goroutines over unbuffered channels,
// so each side blocks and is woken by the other.  With pace > 0 it pauses
// for a millisecond after every pace round trips.
func pingPong(n, pace int) {
	ping, pong := make(chan int), make(chan int)
	done := make(chan struct{})
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(done)
	}()
	v := 0
	for i := 0; i < n; i++ {
		ping <- v
		v = <-pong
		if pace > 0 && i%pace == pace-1 {
			time.Sleep(time.Millisecond)
		}
	}
	close(ping)
	<-done
}

// shortLived starts many goroutines that do a tiny bit of work, some of them
// yielding with Gosched, and waits for all of them.
func shortLived(n int) {
	var wg sync.WaitGroup
	results := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := 0
			for j := 0; j < 1000*(i%5+1); j++ {
				s += j ^ i
				if j%700 == 0 && i%3 == 0 {
					runtime.Gosched()
				}
			}
			results[i] = s
		}(i)
	}
	wg.Wait()
}

// mutexContention has several goroutines fight over one mutex while holding
// it across a Gosched, which makes the others block.
func mutexContention(goroutines, iters int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < iters; i++ {
				mu.Lock()
				counter++
				if i%5 == 0 {
					runtime.Gosched()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var rw sync.RWMutex
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < iters/5; i++ {
				if g == 0 {
					rw.Lock()
					counter--
					runtime.Gosched()
					rw.Unlock()
				} else {
					rw.RLock()
					_ = counter
					rw.RUnlock()
				}
			}
		}(g)
	}
	wg.Wait()
}

// pipeline passes values through a chain of stages joined by small buffered
// channels.
func pipeline(stages, n int) {
	src := make(chan int, 2)
	in := src
	for s := 0; s < stages; s++ {
		next := make(chan int, 2)
		go func(in <-chan int, out chan<- int) {
			for v := range in {
				out <- v * 2
			}
			close(out)
		}(in, next)
		in = next
	}
	go func() {
		for i := 0; i < n; i++ {
			src <- i
		}
		close(src)
	}()
	sum := 0
	for v := range in {
		sum += v
	}
	_ = sum
}

// selectLoop receives from several channels with select, including a
// default case that is taken when nothing is ready.
func selectLoop(n int) {
	a, b := make(chan int), make(chan int, 1)
	quit := make(chan struct{})
	go func() {
		for i := 0; i < n; i++ {
			if i%2 == 0 {
				a <- i
			} else {
				b <- i
			}
		}
		close(quit)
	}()
	defaults := 0
	for {
		select {
		case <-a:
		case <-b:
		case <-quit:
			return
		default:
			defaults++
			runtime.Gosched()
		}
	}
}

// condBroadcast parks waiters on a sync.Cond and wakes them all at once.
func condBroadcast(waiters int) {
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	ready := false
	var wg sync.WaitGroup
	var started sync.WaitGroup
	for i := 0; i < waiters; i++ {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			mu.Lock()
			started.Done()
			for !ready {
				cond.Wait()
			}
			mu.Unlock()
		}()
	}
	started.Wait()
	mu.Lock()
	ready = true
	cond.Broadcast()
	mu.Unlock()
	wg.Wait()
}
