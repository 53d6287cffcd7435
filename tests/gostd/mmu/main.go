// Command mmu is the reference for fastrace.analysis.gc: for each trace
// given on the command line it prints, as one JSON object per line, what
// Go's own internal/trace code computes:
//
//   - "mmu": for every requested flag set, trace.MutatorUtilizationV2 then
//     trace.NewMMUCurve(...).MMU(window) for every requested window;
//   - "util" (with -util): the utilisation series themselves;
//   - "ranges" (with -ranges): every range, from the names, scopes and
//     attributes that Go's Event.Range and Event.RangeAttributes report,
//     paired begin to end per (name, scope); a range reported active
//     (RangeActive) that is not open yet starts at the latest Sync, and a
//     range still open at the end of the trace ends at the last event;
//   - "metrics" (with -metrics): every heap and heap goal metric event;
//   - "syncs": every Sync event with its clock snapshot (Go 1.25+).
//
// Like tests/gostd/textconv it imports internal/trace, so the tests build it
// as package internal/trace/fastracemmu with gotool.build_std_prog.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"internal/trace"
)

type rangeOut struct {
	Name      string `json:"name"`
	ScopeKind int    `json:"scope_kind"`
	Scope     int64  `json:"scope"`
	Start     int64  `json:"start"`
	End       int64  `json:"end"`
	Swept     int64  `json:"swept"`
	Reclaimed int64  `json:"reclaimed"`
	Active    bool   `json:"clipped_start"`
	Open      bool   `json:"clipped_end"`
}

type syncOut struct {
	N        int   `json:"n"`
	Time     int64 `json:"time"`
	HasClock bool  `json:"has_clock"`
	Trace    int64 `json:"clock_trace"`
	WallSec  int64 `json:"wall_sec"`
	WallNsec int64 `json:"wall_nsec"`
}

type metricOut struct {
	Name  string `json:"name"`
	Time  int64  `json:"time"`
	Value uint64 `json:"value"`
}

type result struct {
	Path    string                           `json:"path"`
	Error   string                           `json:"error,omitempty"`
	MMU     map[string][]float64             `json:"mmu"`
	Util    map[string][][]trace.MutatorUtil `json:"util,omitempty"`
	Ranges  []rangeOut                       `json:"ranges,omitempty"`
	Metrics []metricOut                      `json:"metrics,omitempty"`
	Syncs   []syncOut                        `json:"syncs"`
}

func readAll(path string) ([]trace.Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		return nil, err
	}
	var events []trace.Event
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			return events, nil
		}
		if err != nil {
			return events, err
		}
		events = append(events, ev)
	}
}

func scopeOf(r trace.Range) (int, int64) {
	switch r.Scope.Kind {
	case trace.ResourceGoroutine:
		return int(r.Scope.Kind), int64(r.Scope.Goroutine())
	case trace.ResourceProc:
		return int(r.Scope.Kind), int64(r.Scope.Proc())
	}
	return int(r.Scope.Kind), -1
}

func ranges(events []trace.Event) []rangeOut {
	type key struct {
		name  string
		kind  int
		scope int64
	}
	open := map[key]int{}
	var out []rangeOut
	var syncTs int64
	if len(events) > 0 {
		syncTs = int64(events[0].Time())
	}
	for i := range events {
		ev := &events[i]
		switch ev.Kind() {
		case trace.EventSync:
			syncTs = int64(ev.Time())
		case trace.EventRangeBegin, trace.EventRangeActive:
			r := ev.Range()
			kind, scope := scopeOf(r)
			k := key{r.Name, kind, scope}
			if _, ok := open[k]; ok && ev.Kind() == trace.EventRangeActive {
				continue // re-reported at a later generation: already open
			}
			start, active := int64(ev.Time()), false
			if ev.Kind() == trace.EventRangeActive {
				start, active = syncTs, true
			}
			open[k] = len(out)
			out = append(out, rangeOut{Name: r.Name, ScopeKind: kind, Scope: scope,
				Start: start, Swept: -1, Reclaimed: -1, Active: active})
		case trace.EventRangeEnd:
			r := ev.Range()
			kind, scope := scopeOf(r)
			k := key{r.Name, kind, scope}
			j, ok := open[k]
			if !ok {
				j = len(out)
				out = append(out, rangeOut{Name: r.Name, ScopeKind: kind, Scope: scope,
					Start: syncTs, Swept: -1, Reclaimed: -1, Active: true})
			}
			delete(open, k)
			out[j].End = int64(ev.Time())
			for _, a := range ev.RangeAttributes() {
				switch a.Name {
				case "bytes swept":
					out[j].Swept = int64(a.Value.Uint64())
				case "bytes reclaimed":
					out[j].Reclaimed = int64(a.Value.Uint64())
				}
			}
		}
	}
	for _, j := range open {
		out[j].End = int64(events[len(events)-1].Time())
		out[j].Open = true
	}
	return out
}

func main() {
	windowsArg := flag.String("windows", "1000,10000,100000,1000000,10000000,100000000,1000000000",
		"comma-separated MMU windows in ns")
	flagsArg := flag.String("flags", "15", "comma-separated trace.UtilFlags values")
	withUtil := flag.Bool("util", false, "print the utilisation series")
	withRanges := flag.Bool("ranges", false, "print the ranges")
	withMetrics := flag.Bool("metrics", false, "print the heap and heap goal metrics")
	flag.Parse()

	var windows []time.Duration
	for _, s := range strings.Split(*windowsArg, ",") {
		w, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		windows = append(windows, time.Duration(w))
	}
	var flagSets []trace.UtilFlags
	for _, s := range strings.Split(*flagsArg, ",") {
		f, err := strconv.Atoi(s)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		flagSets = append(flagSets, trace.UtilFlags(f))
	}

	enc := json.NewEncoder(os.Stdout)
	for _, path := range flag.Args() {
		res := result{Path: path, MMU: map[string][]float64{}}
		events, err := readAll(path)
		if err != nil {
			res.Error = err.Error()
		}
		for _, fl := range flagSets {
			util := trace.MutatorUtilizationV2(events, fl)
			curve := trace.NewMMUCurve(util)
			name := strconv.Itoa(int(fl))
			for _, w := range windows {
				res.MMU[name] = append(res.MMU[name], curve.MMU(w))
			}
			if *withUtil {
				if res.Util == nil {
					res.Util = map[string][][]trace.MutatorUtil{}
				}
				res.Util[name] = util
			}
		}
		if *withRanges {
			res.Ranges = ranges(events)
		}
		for i := range events {
			if !*withMetrics || events[i].Kind() != trace.EventMetric {
				continue
			}
			m := events[i].Metric()
			if m.Name == "/memory/classes/heap/objects:bytes" || m.Name == "/gc/heap/goal:bytes" {
				res.Metrics = append(res.Metrics, metricOut{m.Name, int64(events[i].Time()), m.Value.Uint64()})
			}
		}
		for i := range events {
			if events[i].Kind() != trace.EventSync {
				continue
			}
			s := events[i].Sync()
			so := syncOut{N: s.N, Time: int64(events[i].Time())}
			if c := s.ClockSnapshot; c != nil {
				so.HasClock = true
				so.Trace = int64(c.Trace)
				so.WallSec = c.Wall.Unix()
				so.WallNsec = int64(c.Wall.Nanosecond())
			}
			res.Syncs = append(res.Syncs, so)
		}
		if err := enc.Encode(res); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
