// Command goreader is the Go side of benchmarks/compare_go.py: it reads an
// execution trace with the toolchain's own internal/trace package and
// reports how many events it got and how long that took.
//
// An internal package of the standard library cannot be imported from an
// outside module, so compare_go.py builds this file as a package inside
// GOROOT's source tree through a `go build -overlay` file map; GOROOT itself
// is never written to, and the binary goes to the fastrace Go cache.
//
// Usage: goreader stream|keepall TRACE [AGAIN]
//
//	stream   read events one by one and count them (memory: the reader's own
//	         per-generation state only)
//	keepall  keep every Event in one slice, then count them (the cost of
//	         holding a whole ordered trace in memory, as fastrace.read does)
//
// Output: one JSON object on stdout with the mode, the event count, the
// count per event kind (indexed by the numeric EventKind), the wall time of
// opening plus reading (process start-up excluded) and a few runtime memory
// statistics and the peak RSS taken at the end of that read; with AGAIN > 0,
// the times of AGAIN more reads in the same process (again_seconds).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"internal/trace"
)

type report struct {
	Mode       string    `json:"mode"`
	Events     int       `json:"events"`
	Kinds      []int     `json:"kinds"`
	Seconds    float64   `json:"seconds"`
	GoVersion  string    `json:"go_version"`
	HeapSys    uint64    `json:"heap_sys"`
	Sys        uint64    `json:"sys"`
	TotalAlloc uint64    `json:"total_alloc"`
	NumGC      uint32    `json:"num_gc"`
	HeapInUse  uint64    `json:"heap_inuse"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	VmHWMKB    int64     `json:"vm_hwm_kb"`
	EventSize  uintptr   `json:"event_size"`
	Again      []float64 `json:"again_seconds"`
}

// peakRSS returns this process's resident-set high-water mark in KiB from
// /proc/self/status (-1 if unavailable). Unlike the ru_maxrss its parent
// sees, it does not include whatever the parent process had resident when
// it forked and exec'd this one.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return -1
			}
			return kb
		}
	}
	return -1
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "goreader:", err)
	os.Exit(1)
}

// readTrace reads the whole trace at path; in keepall mode it returns every
// event, otherwise only their count per kind (added to kinds).
func readTrace(mode, path string, kinds []int) (int, []trace.Event) {
	f, err := os.Open(path)
	if err != nil {
		fail(err)
	}
	defer f.Close()
	r, err := trace.NewReader(f)
	if err != nil {
		fail(err)
	}
	n := 0
	var kept []trace.Event
	for {
		ev, err := r.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			fail(err)
		}
		if mode == "keepall" {
			kept = append(kept, ev)
		} else {
			n++
			kinds[int(ev.Kind())%len(kinds)]++
		}
	}
	if mode == "keepall" {
		// Counted over the kept slice, so the whole trace is still live here.
		n = len(kept)
		for i := range kept {
			kinds[int(kept[i].Kind())%len(kinds)]++
		}
	}
	return n, kept
}

func main() {
	again := 0
	if len(os.Args) == 4 {
		v, err := strconv.Atoi(os.Args[3])
		if err != nil || v < 0 {
			fail(fmt.Errorf("bad repeat count %q", os.Args[3]))
		}
		again = v
	}
	if (len(os.Args) != 3 && len(os.Args) != 4) || (os.Args[1] != "stream" && os.Args[1] != "keepall") {
		fmt.Fprintln(os.Stderr, "usage: goreader stream|keepall TRACE [AGAIN]")
		os.Exit(2)
	}
	mode, path := os.Args[1], os.Args[2]
	kinds := make([]int, 32)

	start := time.Now()
	n, kept := readTrace(mode, path, kinds)
	elapsed := time.Since(start)

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(kept)
	hwm := peakRSS()
	kept = nil
	// Warm runs: the same read again in this process, whose heap is already
	// grown (what compare_go.py reports next to the fresh-process figure).
	againSeconds := []float64{}
	for i := 0; i < again; i++ {
		t0 := time.Now()
		readTrace(mode, path, make([]int, 32))
		againSeconds = append(againSeconds, time.Since(t0).Seconds())
	}
	last := 0
	for i, c := range kinds {
		if c != 0 {
			last = i + 1
		}
	}
	out, _ := json.Marshal(report{
		Mode: mode, Events: n, Kinds: kinds[:last], Seconds: elapsed.Seconds(),
		GoVersion: runtime.Version(), HeapSys: ms.HeapSys, Sys: ms.Sys,
		TotalAlloc: ms.TotalAlloc, NumGC: ms.NumGC, HeapInUse: ms.HeapInuse,
		GOMAXPROCS: runtime.GOMAXPROCS(0), VmHWMKB: hwm,
		EventSize: unsafe.Sizeof(trace.Event{}), Again: againSeconds,
	})
	fmt.Println(string(out))
}
