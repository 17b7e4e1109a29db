/* workers.c — the thread pool of the CPU engine (see workers.h).
 *
 * A job is published under the lock with a new generation number; each helper thread
 * that wakes for it joins, claims tasks from an atomic counter until none are left, and
 * leaves. The caller claims tasks too and returns once every task has finished, without
 * waiting for helpers that were slow to wake: a helper that wakes late joins whatever job
 * is current then (or finds no task left). Before the next job is published the caller
 * waits until no helper is still inside the previous one, so the job's fields never
 * change under a helper that is reading them. */
#include "workers.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct helper {
    workers *pool;
    int index;       /* the thread number passed to tasks (1 .. n_threads-1) */
    pthread_t thread;
} helper;

struct workers {
    int n_threads;
    helper *helpers;             /* n_threads - 1 */
    pthread_mutex_t lock;
    pthread_cond_t wake;         /* a new job was published, or the pool is closing */
    pthread_cond_t finished_cv;  /* the last task of the current job finished */
    pthread_cond_t idle_cv;      /* no helper is inside a job any more */
    unsigned long generation;    /* one more per job published */
    int active;                  /* helpers currently inside a job */
    bool quit;
    /* the current job: fixed while a job runs and while any helper is active */
    workers_task_fn fn;
    void *arg;
    int n_tasks;
    atomic_int next_task;        /* the next task to claim */
    atomic_int done_tasks;       /* tasks finished */
};

/* Claims and runs tasks of the current job until none are left. */
static void run_tasks(workers *w, int thread) {
    for (;;) {
        int task = atomic_fetch_add(&w->next_task, 1);
        if (task >= w->n_tasks) return;
        w->fn(w->arg, task, thread);
        if (atomic_fetch_add(&w->done_tasks, 1) + 1 == w->n_tasks) {
            /* the last one: wake the caller (under the lock, so the wake-up is not lost
             * between its check and its wait) */
            pthread_mutex_lock(&w->lock);
            pthread_cond_signal(&w->finished_cv);
            pthread_mutex_unlock(&w->lock);
        }
    }
}

static void *helper_main(void *p) {
    helper *h = p;
    workers *w = h->pool;
    unsigned long seen = 0;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->quit && w->generation == seen) pthread_cond_wait(&w->wake, &w->lock);
        if (w->quit) break;
        seen = w->generation;
        w->active++;
        pthread_mutex_unlock(&w->lock);
        run_tasks(w, h->index);
        pthread_mutex_lock(&w->lock);
        if (--w->active == 0) pthread_cond_signal(&w->idle_cv);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

workers *workers_create(int n_threads) {
    if (n_threads < 1 || n_threads > WORKERS_MAX) return NULL;
    workers *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->n_threads = 1;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->finished_cv, NULL);
    pthread_cond_init(&w->idle_cv, NULL);
    atomic_init(&w->next_task, 0);
    atomic_init(&w->done_tasks, 0);
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
    w->quit = true;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);
    for (int i = 1; i < w->n_threads; i++) pthread_join(w->helpers[i - 1].thread, NULL);
    pthread_cond_destroy(&w->idle_cv);
    pthread_cond_destroy(&w->finished_cv);
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
    pthread_mutex_lock(&w->lock);
    while (w->active > 0) pthread_cond_wait(&w->idle_cv, &w->lock);
    w->fn = fn;
    w->arg = arg;
    w->n_tasks = n_tasks;
    atomic_store(&w->next_task, 0);
    atomic_store(&w->done_tasks, 0);
    w->generation++;
    pthread_cond_broadcast(&w->wake);
    pthread_mutex_unlock(&w->lock);

    run_tasks(w, 0);

    pthread_mutex_lock(&w->lock);
    while (atomic_load(&w->done_tasks) < n_tasks) pthread_cond_wait(&w->finished_cv, &w->lock);
    pthread_mutex_unlock(&w->lock);
}

int workers_default_count(char *err, size_t errlen) {
    const char *env = getenv("LLMSCOPE_THREADS");
    if (env && *env) {
        char *end;
        long n = strtol(env, &end, 10);
        if (*end || n < 1 || n > WORKERS_MAX) {
            snprintf(err, errlen, "LLMSCOPE_THREADS must be a number from 1 to %d, not '%.40s'",
                     WORKERS_MAX, env);
            return 0;
        }
        return (int)n;
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1) return 1;
    return cores > WORKERS_MAX ? WORKERS_MAX : (int)cores;
}
