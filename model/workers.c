/* workers.c — the thread pool of the CPU engine (see workers.h).
 *
 * A token's forward pass is a few hundred small jobs (a matrix product, a layer's
 * attention) with a little serial work between them, so the pool must hand out a job in
 * well under a microsecond and must not sleep between the jobs of one token; but it must
 * also not keep cores busy for nothing when the program waits for its user, nor fight
 * other programs for a crowded machine. So every wait is the same three steps: spin on a
 * memory location for up to SPIN_NS (reading it costs nothing when nothing changes),
 * then give the core away with sched_yield() for up to YIELD_NS, then sleep on a
 * condition variable. Whoever ends a wait makes a system call only when someone is
 * actually asleep.
 *
 * Job publication is lock-free. The caller writes the job into one of two slots (job g
 * uses slot g % 2) and then publishes it by storing (g << 32 | 0) into CLAIM, whose low
 * half is the next task to claim. Helpers claim tasks by compare-and-swap on the whole
 * word, so a helper that read the slot of an older job (it was slow to wake, or the slot
 * was being rewritten for a job two later) cannot claim anything: the generation in its
 * expected value is no longer current. The caller claims tasks too, and returns once the
 * slot's count of finished tasks reaches the job's size; it never waits for a helper
 * that has nothing left to do. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "workers.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* How long a wait spins, then yields, before it sleeps. The gaps between the jobs of one
 * token are microseconds; between tokens (sampling, capture) they can be a millisecond. */
#define SPIN_NS 200000
#define YIELD_NS 2000000

typedef struct helper {
    struct workers *pool;
    int index;       /* the thread number passed to tasks (1 .. n_threads-1) */
    pthread_t thread;
} helper;

typedef struct job_slot {
    _Atomic(workers_task_fn) fn;
    _Atomic(void *) arg;
    atomic_int n_tasks;
    atomic_int done;             /* tasks finished */
} job_slot;

struct workers {
    int n_threads;
    helper *helpers;             /* n_threads - 1 */
    uint32_t generation;         /* the caller's: jobs published so far */
    _Atomic uint64_t claim;      /* current generation << 32 | next task to claim */
    job_slot slots[2];
    atomic_bool quit;
    /* sleeping: helpers wait on WAKE for a new job, the caller on FINISHED for the last
     * task; the counters say whether anyone is asleep, so that wakers know to signal */
    pthread_mutex_t lock;
    pthread_cond_t wake, finished;
    atomic_int sleeping_helpers;
    atomic_bool caller_sleeping;
};

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The first two steps of a wait: call spin_step() each time the awaited thing is not
 * there yet; it returns false once the wait should sleep instead. */
typedef struct spinner {
    int64_t start;
    int steps;
} spinner;

static bool spin_step(spinner *sp) {
    if (++sp->steps % 64 == 0) { /* look at the clock now and then */
        const int64_t t = now_ns();
        if (!sp->start) sp->start = t;
        if (t - sp->start > SPIN_NS + YIELD_NS) return false;
        if (t - sp->start > SPIN_NS) sched_yield();
    }
    cpu_relax();
    return true;
}

static bool new_job(workers *w, uint32_t seen) {
    return (uint32_t)(atomic_load(&w->claim) >> 32) != seen || atomic_load(&w->quit);
}

/* Claims and runs tasks of job G until none are left (or G is no longer current). */
static void run_tasks(workers *w, uint32_t g, int thread) {
    job_slot *s = &w->slots[g & 1];
    const workers_task_fn fn = atomic_load(&s->fn);
    void *const arg = atomic_load(&s->arg);
    const uint32_t n = (uint32_t)atomic_load(&s->n_tasks);
    uint64_t c = atomic_load(&w->claim);
    for (;;) {
        if ((uint32_t)(c >> 32) != g || (uint32_t)c >= n) return;
        if (!atomic_compare_exchange_weak(&w->claim, &c, c + 1)) continue; /* c reloaded */
        fn(arg, (int)(uint32_t)c, thread);
        if (atomic_fetch_add(&s->done, 1) + 1 == (int)n && atomic_load(&w->caller_sleeping)) {
            pthread_mutex_lock(&w->lock); /* the caller is between its check and its wait */
            pthread_cond_signal(&w->finished);
            pthread_mutex_unlock(&w->lock);
        }
        c = atomic_load(&w->claim);
    }
}

static void *helper_main(void *p) {
    helper *h = p;
    workers *w = h->pool;
    uint32_t seen = 0;
    for (;;) {
        spinner sp = {0, 0};
        while (!new_job(w, seen)) {
            if (spin_step(&sp)) continue;
            pthread_mutex_lock(&w->lock);
            atomic_fetch_add(&w->sleeping_helpers, 1);
            while (!new_job(w, seen)) pthread_cond_wait(&w->wake, &w->lock);
            atomic_fetch_sub(&w->sleeping_helpers, 1);
            pthread_mutex_unlock(&w->lock);
        }
        if (atomic_load(&w->quit)) break;
        seen = (uint32_t)(atomic_load(&w->claim) >> 32);
        run_tasks(w, seen, h->index);
    }
    return NULL;
}

workers *workers_create(int n_threads) {
    if (n_threads < 1 || n_threads > WORKERS_MAX) return NULL;
    workers *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->n_threads = 1;
    atomic_init(&w->claim, 0);
    atomic_init(&w->quit, false);
    atomic_init(&w->sleeping_helpers, 0);
    atomic_init(&w->caller_sleeping, false);
    for (int i = 0; i < 2; i++) {
        atomic_init(&w->slots[i].fn, NULL);
        atomic_init(&w->slots[i].arg, NULL);
        atomic_init(&w->slots[i].n_tasks, 0);
        atomic_init(&w->slots[i].done, 0);
    }
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->finished, NULL);
    if (n_threads > 1) {
        w->helpers = calloc((size_t)n_threads - 1, sizeof *w->helpers);
        if (!w->helpers) {
            workers_destroy(w);
            return NULL;
        }
        for (int i = 1; i < n_threads; i++) {
            helper *h = &w->helpers[i - 1];
            h->pool = w;
            h->index = i;
            if (pthread_create(&h->thread, NULL, helper_main, h)) {
                workers_destroy(w); /* joins the ones already started */
                return NULL;
            }
            w->n_threads = i + 1;
        }
    }
    return w;
}

void workers_destroy(workers *w) {
    if (!w) return;
    pthread_mutex_lock(&w->lock);
    atomic_store(&w->quit, true);
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    for (int i = 1; i < w->n_threads; i++) pthread_join(w->helpers[i - 1].thread, NULL);
    pthread_cond_destroy(&w->finished);
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w->helpers);
    free(w);
}

int workers_count(const workers *w) { return w->n_threads; }

void workers_run(workers *w, int n_tasks, workers_task_fn fn, void *arg) {
    if (n_tasks <= 0) return;
    if (w->n_threads == 1 || n_tasks == 1) { /* nothing to share: no wake-ups at all */
        for (int t = 0; t < n_tasks; t++) fn(arg, t, 0);
        return;
    }
    const uint32_t g = ++w->generation;
    job_slot *s = &w->slots[g & 1]; /* job g - 2's, long finished */
    atomic_store(&s->fn, fn);
    atomic_store(&s->arg, arg);
    atomic_store(&s->n_tasks, n_tasks);
    atomic_store(&s->done, 0);
    atomic_store(&w->claim, (uint64_t)g << 32); /* publishes the slot */
    if (atomic_load(&w->sleeping_helpers) > 0) {
        pthread_mutex_lock(&w->lock); /* a helper is between its check and its wait */
        pthread_cond_broadcast(&w->wake);
        pthread_mutex_unlock(&w->lock);
    }

    run_tasks(w, g, 0);

    spinner sp = {0, 0};
    while (atomic_load(&s->done) < n_tasks) { /* helpers still running tasks of the job */
        if (spin_step(&sp)) continue;
        pthread_mutex_lock(&w->lock);
        atomic_store(&w->caller_sleeping, true);
        while (atomic_load(&s->done) < n_tasks) pthread_cond_wait(&w->finished, &w->lock);
        atomic_store(&w->caller_sleeping, false);
        pthread_mutex_unlock(&w->lock);
    }
}

/* Physical cores among the CPUs this process may run on: distinct (package, core) pairs
 * of their topology in /sys; 0 when it cannot be read. Two hardware threads of one core
 * share its execution units, which the products of the CPU engine keep busy. */
static int physical_cores(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set)) return 0;
    enum { MAX_CORES = 1024 };
    static const char *const fields[2] = {"physical_package_id", "core_id"};
    long seen[MAX_CORES][2];
    int n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &set)) continue;
        long id[2];
        for (int f = 0; f < 2; f++) {
            char path[128];
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%d/topology/%s", cpu, fields[f]);
            FILE *fp = fopen(path, "r");
            const int ok = fp && fscanf(fp, "%ld", &id[f]) == 1;
            if (fp) fclose(fp);
            if (!ok) return 0;
        }
        int k = 0;
        while (k < n && (seen[k][0] != id[0] || seen[k][1] != id[1])) k++;
        if (k == n) {
            if (n == MAX_CORES) return n;
            seen[n][0] = id[0];
            seen[n][1] = id[1];
            n++;
        }
    }
    return n;
}

int workers_default_count(void) {
    long cores = physical_cores();
    if (cores < 1) cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) return 1;
    return cores > WORKERS_MAX ? WORKERS_MAX : (int)cores;
}
