/* C side of the cgo test program. */
#ifndef FASTRACE_CGO_CB_H
#define FASTRACE_CGO_CB_H

/* Starts a new pthread (unknown to the Go runtime) that calls the exported
   Go function goCallback n times, waits for it to finish, returns the sum of
   what goCallback returned. */
int run_foreign_thread(int n);

/* Calls goCallback n times on the calling thread (a Go-created thread). */
int call_back_here(int n);

/* A plain C function with no callbacks. */
int c_add(int a, int b);

/* Sleeps in C for the given number of microseconds. */
void c_sleep_us(int us);

#endif
