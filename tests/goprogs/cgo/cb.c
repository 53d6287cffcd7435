#include <pthread.h>
#include <unistd.h>
#include "cb.h"
#include "_cgo_export.h"

struct job {
	int n;
	int sum;
};

static void *thread_main(void *arg) {
	struct job *j = (struct job *)arg;
	for (int i = 0; i < j->n; i++) {
		j->sum += goCallback(i);
		usleep(200);
	}
	return NULL;
}

int run_foreign_thread(int n) {
	pthread_t t;
	struct job j = {n, 0};
	if (pthread_create(&t, NULL, thread_main, &j) != 0) {
		return -1;
	}
	pthread_join(t, NULL);
	return j.sum;
}

int call_back_here(int n) {
	int sum = 0;
	for (int i = 0; i < n; i++) {
		sum += goCallback(100 + i);
	}
	return sum;
}

int c_add(int a, int b) { return a + b; }

void c_sleep_us(int us) { usleep(us); }
