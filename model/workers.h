/* workers.h — a small pool of threads that share out the tasks of one job.
 *
 * The CPU engine owns one pool and hands it every parallel step of the forward pass (a
 * matrix product split into row ranges, attention split into heads). The caller's thread
 * is worker 0 and takes tasks too, so a pool of one thread starts no thread at all.
 *
 * Tasks are claimed one at a time from a shared counter, so a core that is busy with
 * something else simply takes fewer of them. Which thread runs a task never changes what
 * the task computes: results do not depend on the number of threads or on timing. */
#ifndef LLMSCOPE_WORKERS_H
#define LLMSCOPE_WORKERS_H

#include <stddef.h>

typedef struct workers workers;

/* Runs task TASK of a job; THREAD (0 .. workers_count-1) names the thread running it, so
 * a job can give each thread its own scratch memory. */
typedef void (*workers_task_fn)(void *arg, int task, int thread);

/* A pool of N_THREADS threads, the caller's included (n_threads - 1 are started).
 * Returns NULL if N_THREADS is below 1 or a thread cannot be started. */
workers *workers_create(int n_threads);
void workers_destroy(workers *w);
int workers_count(const workers *w);

/* Runs FN(ARG, task, thread) for every task in [0, N_TASKS) and returns when all have
 * finished. One job at a time: a pool is not shared between threads that call this. */
void workers_run(workers *w, int n_tasks, workers_task_fn fn, void *arg);

/* Threads to use when the caller does not say: one per physical core (online processors
 * where the topology cannot be read), at most WORKERS_MAX. The environment is the
 * program's business (ui/cli/engine_options.c), not this library's. */
#define WORKERS_MAX 256
int workers_default_count(void);

#endif
