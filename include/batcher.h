/* batcher: the queue between request handlers and the model. Handlers submit
 * preprocessed tensors; each worker thread takes what is
 * waiting (up to max_batch, all for the same model), runs it as one batch
 * and hands each job its logits through the job's callback. It owns the
 * queue bound (full -> the caller answers 503), the queue deadline, and the
 * batching policy; it does not know about HTTP, and it does not own the
 * models: a job may name the model it must run on (the one its request
 * started with, kept alive by the submitter across a reload). */
#ifndef INFERD_BATCHER_H
#define INFERD_BATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

typedef enum {
    BATCH_JOB_OK = 0,
    BATCH_JOB_MODEL_ERROR, /* the forward pass failed (500) */
    BATCH_JOB_TIMEOUT,     /* its deadline passed before a worker took it (503/504) */
    BATCH_JOB_CANCELLED,   /* the batcher stopped before running it (503) */
    BATCH_JOB_ABANDONED    /* nobody waits for it any more (client gone): dropped before the forward */
} batch_job_status;

typedef struct batch_job batch_job;
typedef void (*batch_job_done_fn)(batch_job *job);

/* Owned by the submitter; must stay alive until done() has been called. */
struct batch_job {
    const float *input;  /* one tensor of tensor_len floats */
    float *logits;       /* room for num_classes floats */
    /* The model to run on, with its tensor and output sizes; NULL / 0: the
     * batcher's own (the models and sizes given to batcher_create). */
    model *model;
    size_t tensor_len;
    int num_classes;
    batch_job_done_fn done;
    void *user;
    /* Latest start of its forward (monotonic ns, 0 = none); the queue's
     * own deadline (request_timeout_ms after submission) may come first. */
    uint64_t deadline_ns;
    /* Asked, under the queue lock, just before the job would join a batch:
     * nonzero drops it as BATCH_JOB_ABANDONED. May be NULL. Must be cheap. */
    int (*abandoned)(batch_job *job);
    /* filled by the batcher */
    batch_job_status status;
    char error[160];
    uint64_t enqueued_ns, started_ns, finished_ns;
    int batch_size;
    batch_job *next;
};

typedef struct {
    int max_batch;
    int batch_delay_us;     /* wait this long for a fuller batch, only while more images are being prepared */
    int queue_capacity;
    int request_timeout_ms; /* the queue deadline; 0: automatic (batcher_queue_deadline_ns) */
    int warmup_rounds;      /* forwards per batch size 1..max_batch before a worker takes jobs */
    /* Intra-op threads for a lone request: one image, nothing else queued or
     * being prepared, every other worker idle. <= 1: off (the caller passes
     * 0 when it is no more than the model's own count). Used only while it
     * measures faster than the model's own count (batcher_lone_policy).
     * Only the first worker runs them so (one OpenMP team more than the
     * workers' own, batcher_lone_threads_that_fit), and a job that arrives
     * while it is idle goes to it. */
    int lone_threads;
    /* Called by a worker after each forward pass (for metrics); boosted is
     * 1 when it ran on lone_threads. May be NULL. */
    void (*on_batch)(void *ctx, int batch_size, double forward_seconds, int boosted);
    void *on_batch_ctx;
} batcher_options;

typedef enum { BATCHER_SUBMITTED = 0, BATCHER_FULL, BATCHER_STOPPED } batcher_submit_status;

typedef struct batcher batcher;

/* One worker thread per entry of models (entries may repeat: workers can share
 * one model); the batcher does not take ownership of the models. */
int batcher_create(model **models, int model_count, const batcher_options *opts, size_t tensor_len,
                   int num_classes, batcher **out, char *err, size_t errlen);

/* Announce that an image is being decoded and will (probably) be submitted;
 * a worker holds a partial batch for it only while such announcements are
 * outstanding. Every batcher_expect(b, 1) is later undone with -1. */
void batcher_expect(batcher *b, int delta);

batcher_submit_status batcher_submit(batcher *b, batch_job *job);
/* batcher_submit of a job announced by batcher_expect(b, 1): the
 * announcement ends as the job is queued, under one lock, so no worker sees
 * the job and its announcement both (and takes a lone request for one with
 * company) nor neither. Whatever the status. */
batcher_submit_status batcher_submit_expected(batcher *b, batch_job *job);

/* Images waiting in the queue; lock-free. */
int batcher_queue_depth(batcher *b);
int batcher_queue_capacity(const batcher *b);

/* The queue deadline in effect: request_timeout_ms, or when that is 0,
 * twice the time the full queue takes to drain at the recent per-image
 * forward time, at least 1 s. Measured rather than fixed because the
 * forward time is what it depends on: 64 images drain in 2.2 s on the
 * 2-core VM when quiet (29.4 img/s), several times that when the machine
 * is shared or under a sanitizer. A job still queued past it is answered
 * without a forward. */
uint64_t batcher_queue_deadline_ns(batcher *b);

/* How long an image submitted behind images_ahead others would wait for its
 * forward, from the recent per-image forward time (warm-up included) and the
 * number of workers; lock-free. */
uint64_t batcher_expected_wait_ns(batcher *b, int images_ahead);

/* What the lone-request policy has measured: the recent batch-1 forward
 * time (ns, exponential average; 0 = not measured yet) on the model's own
 * thread count and on lone_threads, and whether the next lone request would
 * be boosted. A lone request runs on lone_threads only while that measures
 * faster; now and then one runs the other way so both figures stay current
 * (a neighbour process taking a core makes the boost slower, and the policy
 * falls back to one thread until it measures faster again): every 8th lone
 * request at first, half as often after each exploration that confirms the
 * choice, down to one in 128. */
typedef struct {
    uint64_t base_ns, boosted_ns;
    int boost_next;
    long long lone_runs, boosted_runs;
} batcher_lone_stats;
void batcher_lone_policy(batcher *b, batcher_lone_stats *out);

/* The largest lone_threads, at most wanted, for which workers workers of
 * threads intra-op threads each, one of them on lone_threads, keep the
 * process within cpus OpenMP threads: 1 + (workers - 1) * (threads - 1) +
 * (lone - 1) <= cpus (model_release_thread_team says why it matters). 0
 * when no count above threads fits. */
int batcher_lone_threads_that_fit(int cpus, int workers, int threads, int wanted);

/* Waits until every worker has finished its warm-up, at most timeout_ms.
 * Returns 1 when warm, 0 on timeout, -1 when a warm-up forward failed. */
int batcher_wait_warm(batcher *b, int timeout_ms);

/* Asks every worker to give its malloc arena's free memory back to the
 * kernel (util_release_thread_heap), before its next batch, or at once if
 * it waits: for when the model whose activations filled those arenas is
 * freed (a reload), so the new one's fill them as in a fresh process.
 * Returns without waiting for them. */
void batcher_release_worker_heaps(batcher *b);

/* Completes every job still waiting in the queue as BATCH_JOB_CANCELLED
 * (for a shutdown whose drain time is up); running batches finish. */
void batcher_cancel_queued(batcher *b);

/* Stops taking jobs, runs every queued job, joins the workers. */
void batcher_stop(batcher *b);
void batcher_free(batcher *b);

#endif
