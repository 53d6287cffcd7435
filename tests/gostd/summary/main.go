// Command summary is the reference for fastrace.analysis.summary: it runs
// Go's own internal/trace Summarizer (the goroutine and user-task analysis
// behind `go tool trace`) over traces and prints its results as JSON.
//
// It imports an internal package of the standard library, so it is built
// as the package internal/trace/fastracesummary through a `go build
// -overlay` file map (tests/gotool.py: build_std_prog); nothing is written
// to GOROOT.
//
// Usage: summary [-keep] TRACE...
//
// With -keep every event is also kept in memory, as `go tool trace` keeps
// them (cmd/trace's parseTrace): for benchmarks, the answers are the same.
//
// For each trace, in order, it prints four lines:
//
//	== TRACE
//	the goroutines document (`fastrace goroutines --format json`)
//	the tasks document (`fastrace tasks --format json`)
//	the regions document (every region the summary holds, for the tests)
//
// or, when the trace cannot be read, "== TRACE" then "ERR <message>".
// Each document is one line of compact JSON; map keys come out sorted.
package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"internal/trace"
)

// goroutineDoc is one object of the goroutines document; its keys are
// those fixed by fastrace's issue 10, in that order.
type goroutineDoc struct {
	ID                int64            `json:"id"`
	Name              string           `json:"name"`
	CreationTime      int64            `json:"creation_time"`
	StartTime         int64            `json:"start_time"`
	EndTime           int64            `json:"end_time"`
	ExecTime          int64            `json:"exec_time"`
	SchedWaitTime     int64            `json:"sched_wait_time"`
	SyscallTime       int64            `json:"syscall_time"`
	SyscallBlockTime  int64            `json:"syscall_block_time"`
	BlockTimeByReason map[string]int64 `json:"block_time_by_reason"`
	RangeTime         map[string]int64 `json:"range_time"`
	TotalTime         int64            `json:"total_time"`
	UnknownTime       int64            `json:"unknown_time"`
	Regions           int              `json:"regions"`
}

// taskDoc is one object of the tasks document.
type taskDoc struct {
	ID         uint64  `json:"id"`
	Name       string  `json:"name"`
	Parent     any     `json:"parent"` // -1: none, else the parent's (uint64) id
	Start      int64   `json:"start"`
	End        int64   `json:"end"`
	Logs       int     `json:"logs"`
	Regions    int     `json:"regions"`
	Goroutines []int64 `json:"goroutines"`
}

// regionDoc is one object of the regions document.
type regionDoc struct {
	Goroutine         int64            `json:"goroutine"`
	Task              uint64           `json:"task"`
	Name              string           `json:"name"`
	Start             int64            `json:"start"`
	StartKind         string           `json:"start_kind"`
	End               int64            `json:"end"`
	EndKind           string           `json:"end_kind"`
	ExecTime          int64            `json:"exec_time"`
	SchedWaitTime     int64            `json:"sched_wait_time"`
	SyscallTime       int64            `json:"syscall_time"`
	SyscallBlockTime  int64            `json:"syscall_block_time"`
	BlockTimeByReason map[string]int64 `json:"block_time_by_reason"`
	RangeTime         map[string]int64 `json:"range_time"`
	TotalTime         int64            `json:"total_time"`
	UnknownTime       int64            `json:"unknown_time"`
	Listed            bool             `json:"listed"`
	InTask            bool             `json:"in_task"`
}

func nonZero(m map[string]time.Duration) map[string]int64 {
	out := make(map[string]int64)
	for k, v := range m {
		if v != 0 {
			out[k] = int64(v)
		}
	}
	return out
}

func eventTime(ev *trace.Event) int64 {
	if ev == nil {
		return 0
	}
	return int64(ev.Time())
}

var keep = flag.Bool("keep", false, "keep every event in memory, as go tool trace does")

func summarize(path string) (*trace.Summary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := trace.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, err
	}
	s := trace.NewSummarizer()
	var events []trace.Event
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if *keep {
			events = append(events, ev)
			s.Event(&events[len(events)-1])
		} else {
			s.Event(&ev)
		}
	}
	return s.Finalize(), nil
}

func goroutinesDoc(sum *trace.Summary) []goroutineDoc {
	out := []goroutineDoc{}
	for _, g := range sum.Goroutines {
		out = append(out, goroutineDoc{
			ID:                int64(g.ID),
			Name:              g.Name,
			CreationTime:      int64(g.CreationTime),
			StartTime:         int64(g.StartTime),
			EndTime:           int64(g.EndTime),
			ExecTime:          int64(g.ExecTime),
			SchedWaitTime:     int64(g.SchedWaitTime),
			SyscallTime:       int64(g.SyscallTime),
			SyscallBlockTime:  int64(g.SyscallBlockTime),
			BlockTimeByReason: nonZero(g.BlockTimeByReason),
			RangeTime:         nonZero(g.RangeTime),
			TotalTime:         int64(g.TotalTime),
			UnknownTime:       int64(g.UnknownTime()),
			Regions:           len(g.Regions),
		})
	}
	slices.SortFunc(out, func(a, b goroutineDoc) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func tasksDoc(sum *trace.Summary) []taskDoc {
	out := []taskDoc{}
	for _, t := range sum.Tasks {
		d := taskDoc{
			ID:         uint64(t.ID),
			Name:       t.Name,
			Parent:     -1,
			Start:      eventTime(t.Start),
			End:        eventTime(t.End),
			Logs:       len(t.Logs),
			Regions:    len(t.Regions),
			Goroutines: []int64{},
		}
		if t.Parent != nil {
			d.Parent = uint64(t.Parent.ID)
		}
		for id := range t.Goroutines {
			d.Goroutines = append(d.Goroutines, int64(id))
		}
		slices.Sort(d.Goroutines)
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b taskDoc) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// regionsDoc lists every region the summary can reach: those in the
// region lists of its goroutines, then those only in a task's list.  The
// order is fixed by sorting (Go sorts a goroutine's regions by start time
// with an unstable sort).
func regionsDoc(sum *trace.Summary) []regionDoc {
	seen := make(map[*trace.UserRegionSummary]int)
	out := []regionDoc{}
	add := func(r *trace.UserRegionSummary, g int64, listed bool) {
		kind := func(ev *trace.Event, regionKind trace.EventKind, other string) string {
			switch {
			case ev == nil:
				return "none"
			case ev.Kind() == regionKind:
				return "region"
			default:
				return other
			}
		}
		out = append(out, regionDoc{
			Goroutine:         g,
			Task:              uint64(r.TaskID),
			Name:              r.Name,
			Start:             eventTime(r.Start),
			StartKind:         kind(r.Start, trace.EventRegionBegin, "goroutine creation"),
			End:               eventTime(r.End),
			EndKind:           kind(r.End, trace.EventRegionEnd, "goroutine end"),
			ExecTime:          int64(r.ExecTime),
			SchedWaitTime:     int64(r.SchedWaitTime),
			SyscallTime:       int64(r.SyscallTime),
			SyscallBlockTime:  int64(r.SyscallBlockTime),
			BlockTimeByReason: nonZero(r.BlockTimeByReason),
			RangeTime:         nonZero(r.RangeTime),
			TotalTime:         int64(r.TotalTime),
			UnknownTime:       int64(r.UnknownTime()),
			Listed:            listed,
		})
		seen[r] = len(out) - 1
	}
	for _, g := range sum.Goroutines {
		for _, r := range g.Regions {
			add(r, int64(g.ID), true)
		}
	}
	for _, t := range sum.Tasks {
		for _, r := range t.Regions {
			if i, ok := seen[r]; ok {
				out[i].InTask = true
				continue
			}
			g := int64(trace.NoGoroutine)
			if r.Start != nil {
				g = int64(r.Start.Goroutine())
			} else if r.End != nil {
				g = int64(r.End.Goroutine())
			}
			add(r, g, false)
			out[len(out)-1].InTask = true
		}
	}
	slices.SortFunc(out, func(a, b regionDoc) int {
		return cmp.Or(cmp.Compare(a.Goroutine, b.Goroutine), cmp.Compare(a.Start, b.Start),
			cmp.Compare(a.End, b.End), cmp.Compare(a.Task, b.Task), cmp.Compare(a.Name, b.Name))
	})
	return out
}

func main() {
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	flag.Parse()
	for _, path := range flag.Args() {
		fmt.Fprintln(out, "==", path)
		sum, err := summarize(path)
		if err != nil {
			fmt.Fprintln(out, "ERR", err)
			continue
		}
		for _, doc := range []any{goroutinesDoc(sum), tasksDoc(sum), regionsDoc(sum)} {
			b, err := json.Marshal(doc)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(2)
			}
			out.Write(b)
			out.WriteByte('\n')
		}
	}
}
