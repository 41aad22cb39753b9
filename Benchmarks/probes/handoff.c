// The price of one hand-off between two threads on this machine: two threads pass a turn back and
// forth through a pthread mutex and condition variable (futex wait and wake), each asleep between
// its turns — as a request's hand-offs between an event loop, a task pool thread and a connection's
// Dispatch queue are when the box is not saturated. Prints wall and CPU (both threads) per hand-off.
//
//   cc -O2 -pthread -o /tmp/handoff Benchmarks/probes/handoff.c && /tmp/handoff
//   taskset -c 0 /tmp/handoff      # both threads on one core: a context switch, no cross-core wake
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int turn = 0;
static long rounds = 200000;

static void *player(void *argument) {
    int me = (int)(long)argument;
    for (long i = 0; i < rounds; i++) {
        pthread_mutex_lock(&lock);
        while (turn != me) pthread_cond_wait(&changed, &lock);
        turn = 1 - me;
        pthread_cond_broadcast(&changed);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static double wallSeconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpuSeconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
    if (argc > 1) rounds = atol(argv[1]);
    pthread_t first, second;
    double wall = wallSeconds(), cpu = cpuSeconds();
    pthread_create(&first, NULL, player, (void *)0);
    pthread_create(&second, NULL, player, (void *)1);
    pthread_join(first, NULL);
    pthread_join(second, NULL);
    long handoffs = 2 * rounds;
    printf("%ld hand-offs: %.2f us wall, %.2f us CPU each\n", handoffs,
           (wallSeconds() - wall) / handoffs * 1e6, (cpuSeconds() - cpu) / handoffs * 1e6);
    return 0;
}
