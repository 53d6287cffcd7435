package main

// #include "cb.h"
import "C"

import "runtime"

var callbacks int

// goCallback is called from C, both on a thread the Go runtime did not create
// (which makes the runtime adopt it for the call) and on a normal Go thread.
//
//export goCallback
func goCallback(i C.int) C.int {
	callbacks++
	if i%2 == 0 {
		runtime.Gosched()
	}
	// Allocate a little so the callback does some runtime work.
	s := make([]int, 16+int(i)%8)
	return C.int(len(s))
}
