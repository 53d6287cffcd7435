// Command annotations exercises user annotations: tasks (nested, ended on
// other goroutines), regions (WithRegion, StartRegion, nested), trace.Log and
// trace.Logf with awkward strings, and pprof labels set with pprof.Do.
package main

import (
	"context"
	"flag"
	"fmt"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync"

	"fastrace.test/goprogs/internal/harness"
)

// awkward holds log messages that are hard to print or escape correctly.
var awkward = []string{
	"",
	"plain ascii",
	"\xff\xfe",                  // invalid UTF-8
	"ok\xc3",                    // truncated multi-byte sequence
	"nul\x00inside",             // NUL byte
	"bell\x07 esc\x1b[31m",      // other C0 controls
	"tab\tnewline\ncr\r",        // whitespace controls
	`quote" single' back\slash`, // characters that need escaping
	"é",
	"日本",
	"emoji \U0001F600\U0001F680",
	"nbsp\u00a0zwsp\u200bls\u2028bom\ufeff",
	"del\x7f c1\u0085",
}

// long is bigger than the runtime's limit for strings in a trace, so the
// runtime cuts it short.
var long = strings.Repeat("0123456789abcdef", 68) + "<end>" // 1093 bytes

func main() {
	out := harness.Output()
	workers := flag.Int("workers", 3, "goroutines running labelled, annotated work")
	harness.Parse(out)

	stop := harness.Start(*out)
	run(*workers)
	stop()
}

func run(workers int) {
	ctx := context.Background()
	if !trace.IsEnabled() {
		harness.Fatal("tracing is not enabled")
	}

	// A root task with nested child tasks.
	ctx, root := trace.NewTask(ctx, "root")
	trace.Log(ctx, "phase", "start")

	// Every awkward string as a message, with a category, and as a category.
	for i, s := range awkward {
		trace.Log(ctx, "awkward", s)
		trace.Log(ctx, s, fmt.Sprintf("as-category-%d", i))
	}
	trace.Log(ctx, "", "empty category")
	trace.Log(ctx, "long", long)
	trace.Log(ctx, long, "long category")
	trace.Logf(ctx, "fmt", "%d %q %x", 42, "q\"uote", []byte{0xde, 0xad})

	// Awkward names for tasks and regions too.
	for _, s := range []string{"", "\xff\xfe", "日本", "nbsp\u00a0", long} {
		tctx, t := trace.NewTask(ctx, s)
		trace.WithRegion(tctx, s, func() {})
		t.End()
	}

	// Regions: WithRegion, StartRegion, nested regions.
	trace.WithRegion(ctx, "outer-with", func() {
		r := trace.StartRegion(ctx, "inner-start")
		trace.WithRegion(ctx, "innermost", func() {
			trace.Log(ctx, "where", "innermost")
		})
		r.End()
	})

	// Nested tasks, with work on other goroutines that carry pprof labels.
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wctx, wtask := trace.NewTask(ctx, fmt.Sprintf("worker-%d", w))
		labels := pprof.Labels("worker", fmt.Sprint(w), "kind", "annot\u00e9")
		wg.Add(1)
		pprof.Do(wctx, labels, func(lctx context.Context) {
			// The goroutine started here inherits the labels.
			go func() {
				defer wg.Done()
				defer wtask.End() // task ended on a different goroutine
				subctx, sub := trace.NewTask(lctx, "sub")
				defer sub.End()
				for i := 0; i < 3; i++ {
					trace.WithRegion(subctx, "step", func() {
						trace.Logf(subctx, "step", "worker %d step %d", w, i)
						busy(2000)
					})
				}
				// A region left open when the goroutine ends is still a
				// valid trace; end this one to keep things tidy though.
				r := trace.StartRegion(subctx, "tail")
				busy(500)
				r.End()
			}()
		})
	}
	wg.Wait()

	// A task created and ended without any region or log.
	_, empty := trace.NewTask(ctx, "empty-task")
	empty.End()

	// A task whose parent has already ended.
	pctx, parent := trace.NewTask(ctx, "parent-ends-first")
	cctx, child := trace.NewTask(pctx, "orphan-child")
	parent.End()
	trace.Log(cctx, "orphan", "still logging")
	child.End()

	// Log without any task.
	trace.Log(context.Background(), "no-task", "background")

	trace.Log(ctx, "phase", "end")
	root.End()
}

var sink int

func busy(n int) {
	s := 0
	for i := 0; i < n; i++ {
		s += i * i
	}
	sink += s
}
