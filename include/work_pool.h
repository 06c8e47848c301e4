/* work_pool: a fixed set of threads that run submitted tasks in order, each
 * thread `nice` steps below the process's priority. The HTTP transport hands
 * every received upload's decoding and preprocessing to one, so that the
 * libmicrohttpd threads, which keep the process's priority, stay quick to
 * read requests and answer admission 503s, while the CPU-heavy decoding
 * yields to the model workers under overload. It owns its threads and its
 * queue; it does not own the tasks (the submitter embeds each work_item in
 * its own state) and knows nothing of HTTP or images. */
#ifndef INFERD_WORK_POOL_H
#define INFERD_WORK_POOL_H

#include <stddef.h>

typedef struct work_item work_item;
struct work_item {
    void (*run)(work_item *item);
    work_item *next; /* the pool's */
};

typedef struct work_pool work_pool;

/* threads >= 1; name (at most 15 characters) names the threads for top and
 * for scripts/bench.sh's CPU split. Lowering the priority is best effort. */
int work_pool_create(int threads, int nice, const char *name, work_pool **out, char *err, size_t errlen);

/* Queues item (the caller keeps it alive until its run has returned).
 * Returns -1, without queueing, once the pool is stopping: the caller then
 * runs the item itself. */
int work_pool_submit(work_pool *p, work_item *item);

/* Runs every task already queued, then joins the threads. */
void work_pool_stop(work_pool *p);
void work_pool_free(work_pool *p);

#endif
