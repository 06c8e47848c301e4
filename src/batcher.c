#define _POSIX_C_SOURCE 200809L
#include "batcher.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "util.h"

typedef struct {
    batcher *owner;
    model *model;
    pthread_t thread;
    int started;
    int runs_lone; /* the one worker that may run a lone request on lone_threads */
    float *inputs;  /* max_batch * input_room */
    float *logits;  /* max_batch * logits_room */
    size_t input_room, logits_room;
    unsigned heap_releases_seen; /* of the batcher's heap_releases */
} batch_worker;

struct batcher {
    batcher_options opts;
    size_t tensor_len;
    int num_classes;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    /* The lone worker waits on a condition of its own, so that a job that
     * arrives while it is idle goes to it: only it runs lone requests on
     * lone_threads (one OpenMP team beyond the workers' own: see
     * model_release_thread_team). It is claimable while it will look at
     * the queue without a wake from anyone else (it waits, or has just
     * finished a forward) and no job has been handed to it since; a job
     * handed to it is reserved: the other workers leave it in the queue. */
    pthread_cond_t lone_wake;
    int lone_worker_waiting, lone_worker_claimable, lone_reserved;
    batch_job *head, *tail;
    atomic_int depth; /* changed under lock, read without it for admission */
    /* Recent forward time per image (ns), an exponential average over
     * batches, for the expected queue wait. */
    _Atomic uint64_t forward_ns_per_image;
    int expected;
    int running;             /* workers inside a forward (under lock) */
    uint64_t forward_starts; /* forwards begun so far (under lock) */
    /* The lone-request policy (under lock): batch-1 forward time on the
     * model's own threads [0] and on lone_threads [1], for lone_model. */
    uint64_t lone_ns[2];
    const model *lone_model;
    long long lone_runs, boosted_runs;
    int lone_prefers_boost;   /* the faster way as last measured */
    int lone_since_explore;   /* lone runs since the slower way last ran */
    int lone_explore_every;   /* LONE_EXPLORE_MIN..LONE_EXPLORE_MAX */
    int stopping;
    int worker_count;
    int warm_workers;
    int warmup_failed;
    pthread_cond_t warmed;
    unsigned heap_releases; /* batcher_release_worker_heaps calls (under lock) */
    batch_worker *workers;
};

static void abs_deadline(struct timespec *ts, uint64_t ns_from_now) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    uint64_t ns = (uint64_t)ts->tv_nsec + ns_from_now;
    ts->tv_sec += (time_t)(ns / 1000000000u);
    ts->tv_nsec = (long)(ns % 1000000000u);
}

/* Hands a new job to one worker: the lone worker when it is claimable
 * (woken if it waits), else a waiting other. */
static void wake_one_locked(batcher *b) {
    if (b->lone_worker_claimable) {
        b->lone_worker_claimable = 0;
        b->lone_reserved = 1;
        if (b->lone_worker_waiting) {
            b->lone_worker_waiting = 0;
            pthread_cond_signal(&b->lone_wake);
        }
    } else {
        pthread_cond_signal(&b->wake);
    }
}

static void wake_all_locked(batcher *b) {
    b->lone_worker_waiting = 0;
    pthread_cond_broadcast(&b->lone_wake);
    pthread_cond_broadcast(&b->wake);
}

/* Waits on the worker's own condition; deadline NULL waits without one. */
static int wait_locked(batch_worker *w, const struct timespec *deadline) {
    batcher *b = w->owner;
    pthread_cond_t *cond = &b->wake;
    if (w->runs_lone) {
        b->lone_worker_waiting = b->lone_worker_claimable = 1;
        cond = &b->lone_wake;
    }
    int rc = deadline ? pthread_cond_timedwait(cond, &b->lock, deadline) : pthread_cond_wait(cond, &b->lock);
    if (w->runs_lone) b->lone_worker_waiting = 0;
    return rc;
}

/* Whether the queue holds a job for w: all but a reserved one for the
 * others. */
static int has_job_for_locked(const batch_worker *w) {
    const batcher *b = w->owner;
    return b->head && (w->runs_lone || b->depth > b->lone_reserved);
}

static batch_job *pop_locked(batcher *b) {
    batch_job *job = b->head;
    if (job) {
        b->head = job->next;
        if (!b->head) b->tail = NULL;
        b->depth--;
        job->next = NULL;
    }
    return job;
}

static void record_forward(batcher *b, int batch_size, uint64_t forward_ns) {
    uint64_t per_image = forward_ns / (uint64_t)batch_size;
    uint64_t old = atomic_load(&b->forward_ns_per_image);
    /* Races between workers lose an update at worst: it is an estimate. */
    atomic_store(&b->forward_ns_per_image, old ? (old * 3 + per_image) / 4 : per_image);
}

/* The slower way runs once every lone_explore_every lone requests, so a
 * change of conditions (a neighbour process taking or leaving a core) is
 * seen; each exploration that confirms the choice doubles the interval (an
 * exploring run is a slow one: on a host where two threads are always
 * slower, they soon cost less than one request in a hundred), and a change
 * of choice brings it back to the minimum. */
enum { LONE_EXPLORE_MIN = 8, LONE_EXPLORE_MAX = 128 };

/* Whether a lone request runs on lone_threads: unmeasured ways are tried
 * first (base, then boosted), then the faster one, exploring the other now
 * and then. Called under the lock. */
static int lone_boost_locked(batcher *b, const model *m) {
    if (m != b->lone_model) {
        b->lone_model = m;
        b->lone_ns[0] = b->lone_ns[1] = 0;
        b->lone_since_explore = 0;
        b->lone_explore_every = LONE_EXPLORE_MIN;
    }
    if (!b->lone_ns[0]) return 0;
    if (!b->lone_ns[1]) return 1;
    int prefer = b->lone_prefers_boost;
    return b->lone_since_explore + 1 >= b->lone_explore_every ? !prefer : prefer;
}

static void record_lone_locked(batcher *b, const model *m, int boosted, uint64_t forward_ns) {
    if (m != b->lone_model) return;
    int measured = b->lone_ns[0] && b->lone_ns[1];
    int exploring = measured && boosted != b->lone_prefers_boost;
    uint64_t old = b->lone_ns[boosted];
    /* An exploring sample weighs half (it is rare); the preferred way's,
     * a quarter. */
    b->lone_ns[boosted] = !old ? forward_ns : exploring ? (old + forward_ns) / 2 : (old * 3 + forward_ns) / 4;
    if (exploring) {
        b->lone_since_explore = 0;
    } else {
        b->lone_since_explore++;
    }
    if (b->lone_ns[0] && b->lone_ns[1]) {
        int prefer = b->lone_ns[1] < b->lone_ns[0];
        if (!measured || prefer != b->lone_prefers_boost) {
            b->lone_prefers_boost = prefer;
            b->lone_explore_every = LONE_EXPLORE_MIN;
            b->lone_since_explore = 0;
        } else if (exploring && b->lone_explore_every < LONE_EXPLORE_MAX) {
            b->lone_explore_every *= 2;
        }
    }
    b->lone_runs++;
    if (boosted) b->boosted_runs++;
}

/* The model and sizes a job runs with. */
static model *job_model(const batch_worker *w, const batch_job *job) { return job->model ? job->model : w->model; }
static size_t job_tensor_len(const batcher *b, const batch_job *job) {
    return job->model ? job->tensor_len : b->tensor_len;
}
static int job_classes(const batcher *b, const batch_job *job) { return job->model ? job->num_classes : b->num_classes; }

/* Makes the worker's buffers hold max_batch tensors and logits of a model. */
static int worker_room(batch_worker *w, size_t tensor_len, int num_classes) {
    size_t max_batch = (size_t)w->owner->opts.max_batch;
    if (tensor_len > w->input_room) {
        float *p = realloc(w->inputs, sizeof(float) * tensor_len * max_batch);
        if (!p) return -1;
        w->inputs = p;
        w->input_room = tensor_len;
    }
    if ((size_t)num_classes > w->logits_room) {
        float *p = realloc(w->logits, sizeof(float) * (size_t)num_classes * max_batch);
        if (!p) return -1;
        w->logits = p;
        w->logits_room = (size_t)num_classes;
    }
    return 0;
}

static void finish(batch_job *job, batch_job_status status, const char *error) {
    job->status = status;
    job->finished_ns = util_now_ns();
    if (error) snprintf(job->error, sizeof(job->error), "%s", error);
    job->done(job);
}

/* The first TorchScript calls at each batch size are slow (graph
 * specialisation, oneDNN primitive creation): pay for them before serving. */
static int warm_up(batch_worker *w) {
    batcher *b = w->owner;
    memset(w->inputs, 0, sizeof(float) * b->tensor_len * (size_t)b->opts.max_batch);
    for (int n = 1; n <= b->opts.max_batch; n++) {
        for (int round = 0; round < b->opts.warmup_rounds; round++) {
            char err[160];
            uint64_t t0 = util_now_ns();
            if (model_forward(w->model, w->inputs, n, w->logits, err, sizeof(err)) != 0) return -1;
            /* The first rounds are the slow ones; the last tells the steady time. */
            if (round == b->opts.warmup_rounds - 1) record_forward(b, n, util_now_ns() - t0);
        }
    }
    /* The first forwards on another thread count are slow too (a new
     * OpenMP team, oneDNN primitives for its split). */
    if (b->opts.lone_threads > 1 && w->runs_lone) {
        for (int round = 0; round < b->opts.warmup_rounds; round++) {
            char err[160];
            if (model_forward_threads(w->model, w->inputs, 1, b->opts.lone_threads, w->logits, err, sizeof(err)) != 0)
                return -1;
        }
    }
    return 0;
}

/* The thread name lets scripts/bench.sh split the server's CPU time into
 * model forwards (these threads, and the intra-op threads they start, which
 * inherit the name) and everything else. */
#define WORKER_THREAD_NAME "inferd-model"

static void *worker_main(void *arg) {
    batch_worker *w = arg;
    batcher *b = w->owner;
    prctl(PR_SET_NAME, WORKER_THREAD_NAME, 0, 0, 0);
    int max_batch = b->opts.max_batch;
    int warm_rc = warm_up(w);
    pthread_mutex_lock(&b->lock);
    b->warm_workers++;
    if (warm_rc != 0) b->warmup_failed = 1;
    pthread_cond_broadcast(&b->warmed);
    pthread_mutex_unlock(&b->lock);
    batch_job **batch = calloc((size_t)max_batch, sizeof(*batch));
    if (!batch) return NULL;

    for (;;) {
        pthread_mutex_lock(&b->lock);
        while (!has_job_for_locked(w) && !b->stopping && w->heap_releases_seen == b->heap_releases)
            wait_locked(w, NULL);
        if (w->heap_releases_seen != b->heap_releases) {
            w->heap_releases_seen = b->heap_releases;
            pthread_mutex_unlock(&b->lock);
            util_release_thread_heap();
            continue;
        }
        if (!has_job_for_locked(w) && b->stopping) {
            pthread_mutex_unlock(&b->lock);
            break;
        }
        /* Hold a partial batch only while more images are on their way: a
         * lone request starts at once, a burst fills the batch. */
        if (b->opts.batch_delay_us > 0 && b->depth < max_batch && b->expected > 0 && !b->stopping) {
            struct timespec deadline;
            abs_deadline(&deadline, (uint64_t)b->opts.batch_delay_us * 1000u);
            while (b->depth < max_batch && b->expected > 0 && !b->stopping) {
                if (wait_locked(w, &deadline) == ETIMEDOUT) break;
            }
        }
        int n = 0;
        uint64_t now = util_now_ns();
        batch_job *expired = NULL, *abandoned = NULL;
        model *batch_model = NULL;
        /* One batch runs on one model: it ends at the first job (in queue
         * order) for another one, which the next batch takes. */
        while (n < max_batch && has_job_for_locked(w) && (!batch_model || job_model(w, b->head) == batch_model)) {
            batch_job *job = pop_locked(b);
            if (job->deadline_ns && now > job->deadline_ns) {
                job->next = expired;
                expired = job;
                continue;
            }
            if (job->abandoned && job->abandoned(job)) {
                job->next = abandoned;
                abandoned = job;
                continue;
            }
            batch_model = job_model(w, job);
            batch[n++] = job;
        }
        if (w->runs_lone) b->lone_reserved = 0;
        /* Another worker may be idle while jobs remain. */
        if (b->head) wake_one_locked(b);
        /* A lone request: nothing behind it and no other forward running,
         * so the cores the other workers would use are free. */
        int lone = n == 1 && w->runs_lone && b->opts.lone_threads > 1 && !b->head && b->expected == 0 &&
                   b->running == 0;
        int boosted = lone && lone_boost_locked(b, batch_model);
        uint64_t my_start = 0;
        if (n > 0) {
            b->running++;
            my_start = ++b->forward_starts;
            if (w->runs_lone) b->lone_worker_claimable = 0;
        }
        pthread_mutex_unlock(&b->lock);

        while (expired) {
            batch_job *next = expired->next;
            finish(expired, BATCH_JOB_TIMEOUT, "request waited too long for the model");
            expired = next;
        }
        while (abandoned) {
            batch_job *next = abandoned->next;
            finish(abandoned, BATCH_JOB_ABANDONED, "client closed the connection");
            abandoned = next;
        }
        if (n == 0) continue;

        size_t tensor_len = job_tensor_len(b, batch[0]);
        int classes = job_classes(b, batch[0]);
        char err[160] = "";
        if (worker_room(w, tensor_len, classes) != 0) {
            pthread_mutex_lock(&b->lock);
            b->running--;
            pthread_mutex_unlock(&b->lock);
            for (int i = 0; i < n; i++) finish(batch[i], BATCH_JOB_MODEL_ERROR, "out of memory for the batch");
            continue;
        }
        uint64_t started = util_now_ns();
        for (int i = 0; i < n; i++) {
            memcpy(w->inputs + (size_t)i * tensor_len, batch[i]->input, tensor_len * sizeof(float));
            batch[i]->started_ns = started;
            batch[i]->batch_size = n;
        }
        int rc = model_forward_threads(batch_model, w->inputs, n, boosted ? b->opts.lone_threads : 0, w->logits, err,
                                       sizeof(err));
        uint64_t forward_ns = util_now_ns() - started;
        pthread_mutex_lock(&b->lock);
        b->running--;
        /* Back to the queue next, without a wake: a client that sends its
         * next image as soon as it has this answer finds it claimable. */
        if (w->runs_lone) b->lone_worker_claimable = 1;
        /* Timed as lone only when it stayed alone: a forward that another
         * worker started beside it would charge that contention to the way
         * it ran. */
        if (rc == 0 && lone && b->forward_starts == my_start) record_lone_locked(b, batch_model, boosted, forward_ns);
        pthread_mutex_unlock(&b->lock);
        if (rc == 0) record_forward(b, n, forward_ns);
        if (b->opts.on_batch) b->opts.on_batch(b->opts.on_batch_ctx, n, (double)forward_ns / 1e9, boosted);
        for (int i = 0; i < n; i++) {
            if (rc == 0) {
                memcpy(batch[i]->logits, w->logits + (size_t)i * (size_t)classes, sizeof(float) * (size_t)classes);
                finish(batch[i], BATCH_JOB_OK, NULL);
            } else {
                finish(batch[i], BATCH_JOB_MODEL_ERROR, err);
            }
        }
    }
    free(batch);
    return NULL;
}

int batcher_create(model **models, int model_count, const batcher_options *opts, size_t tensor_len,
                   int num_classes, batcher **out, char *err, size_t errlen) {
    *out = NULL;
    if (model_count <= 0 || opts->max_batch <= 0 || opts->queue_capacity <= 0) {
        snprintf(err, errlen, "batcher needs at least one model, max_batch >= 1 and queue_capacity >= 1");
        return -1;
    }
    batcher *b = calloc(1, sizeof(*b));
    if (!b) goto nomem;
    b->opts = *opts;
    b->tensor_len = tensor_len;
    b->num_classes = num_classes;
    pthread_mutex_init(&b->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&b->wake, &attr);
    pthread_cond_init(&b->lone_wake, &attr);
    pthread_cond_init(&b->warmed, &attr);
    pthread_condattr_destroy(&attr);
    b->workers = calloc((size_t)model_count, sizeof(batch_worker));
    if (!b->workers) goto nomem;
    /* After its warm-up the lone worker looks at the queue unasked. */
    b->lone_worker_claimable = 1;
    b->worker_count = model_count;
    for (int i = 0; i < model_count; i++) {
        batch_worker *w = &b->workers[i];
        w->owner = b;
        w->model = models[i];
        w->runs_lone = i == 0;
        if (worker_room(w, tensor_len, num_classes) != 0) goto nomem;
    }
    for (int i = 0; i < model_count; i++) {
        if (pthread_create(&b->workers[i].thread, NULL, worker_main, &b->workers[i]) != 0) {
            snprintf(err, errlen, "cannot start model worker thread");
            batcher_stop(b);
            batcher_free(b);
            return -1;
        }
        b->workers[i].started = 1;
    }
    *out = b;
    return 0;
nomem:
    snprintf(err, errlen, "out of memory creating the batcher");
    batcher_free(b);
    return -1;
}

void batcher_expect(batcher *b, int delta) {
    pthread_mutex_lock(&b->lock);
    b->expected += delta;
    if (delta < 0) wake_all_locked(b);
    pthread_mutex_unlock(&b->lock);
}

static batcher_submit_status submit(batcher *b, batch_job *job, int announced) {
    job->next = NULL;
    job->status = BATCH_JOB_OK;
    job->error[0] = '\0';
    job->enqueued_ns = util_now_ns();
    job->started_ns = job->finished_ns = 0;
    job->batch_size = 0;
    uint64_t queue_deadline = job->enqueued_ns + batcher_queue_deadline_ns(b);
    if (!job->deadline_ns || queue_deadline < job->deadline_ns) job->deadline_ns = queue_deadline;
    batcher_submit_status status = BATCHER_SUBMITTED;
    pthread_mutex_lock(&b->lock);
    if (announced) b->expected--;
    if (b->stopping) {
        status = BATCHER_STOPPED;
    } else if (b->depth >= b->opts.queue_capacity) {
        status = BATCHER_FULL;
    } else {
        if (b->tail)
            b->tail->next = job;
        else
            b->head = job;
        b->tail = job;
        b->depth++;
        wake_one_locked(b);
    }
    /* A worker holding a partial batch for this image stops waiting. */
    if (announced && status != BATCHER_SUBMITTED) wake_all_locked(b);
    pthread_mutex_unlock(&b->lock);
    return status;
}

batcher_submit_status batcher_submit(batcher *b, batch_job *job) { return submit(b, job, 0); }

batcher_submit_status batcher_submit_expected(batcher *b, batch_job *job) { return submit(b, job, 1); }

int batcher_queue_depth(batcher *b) { return atomic_load(&b->depth); }

int batcher_queue_capacity(const batcher *b) { return b->opts.queue_capacity; }

uint64_t batcher_queue_deadline_ns(batcher *b) {
    if (b->opts.request_timeout_ms > 0) return (uint64_t)b->opts.request_timeout_ms * 1000000u;
    uint64_t drain = 2 * batcher_expected_wait_ns(b, b->opts.queue_capacity);
    return drain > 1000000000u ? drain : 1000000000u;
}

uint64_t batcher_expected_wait_ns(batcher *b, int images_ahead) {
    if (images_ahead <= 0) return 0;
    return (uint64_t)images_ahead * atomic_load(&b->forward_ns_per_image) / (uint64_t)b->worker_count;
}

void batcher_lone_policy(batcher *b, batcher_lone_stats *out) {
    pthread_mutex_lock(&b->lock);
    out->base_ns = b->lone_ns[0];
    out->boosted_ns = b->lone_ns[1];
    out->boost_next = b->opts.lone_threads > 1 && b->lone_model ? lone_boost_locked(b, b->lone_model) : 0;
    out->lone_runs = b->lone_runs;
    out->boosted_runs = b->boosted_runs;
    pthread_mutex_unlock(&b->lock);
}

int batcher_lone_threads_that_fit(int cpus, int workers, int threads, int wanted) {
    if (workers < 1) workers = 1;
    if (threads < 1) threads = 1;
    int room = cpus - (workers - 1) * (threads - 1);
    int lone = wanted < room ? wanted : room;
    return lone > threads ? lone : 0;
}

int batcher_wait_warm(batcher *b, int timeout_ms) {
    struct timespec deadline;
    abs_deadline(&deadline, (uint64_t)timeout_ms * 1000000u);
    pthread_mutex_lock(&b->lock);
    while (b->warm_workers < b->worker_count && !b->warmup_failed) {
        if (pthread_cond_timedwait(&b->warmed, &b->lock, &deadline) == ETIMEDOUT) break;
    }
    int rc = b->warmup_failed ? -1 : b->warm_workers == b->worker_count ? 1 : 0;
    pthread_mutex_unlock(&b->lock);
    return rc;
}

void batcher_release_worker_heaps(batcher *b) {
    pthread_mutex_lock(&b->lock);
    b->heap_releases++;
    wake_all_locked(b);
    pthread_mutex_unlock(&b->lock);
}

void batcher_cancel_queued(batcher *b) {
    pthread_mutex_lock(&b->lock);
    b->stopping = 1;
    batch_job *list = NULL;
    for (batch_job *job; (job = pop_locked(b));) {
        job->next = list;
        list = job;
    }
    wake_all_locked(b);
    pthread_mutex_unlock(&b->lock);
    while (list) {
        batch_job *next = list->next;
        finish(list, BATCH_JOB_CANCELLED, "server is shutting down");
        list = next;
    }
}

void batcher_stop(batcher *b) {
    if (!b) return;
    pthread_mutex_lock(&b->lock);
    b->stopping = 1;
    wake_all_locked(b);
    pthread_mutex_unlock(&b->lock);
    for (int i = 0; i < b->worker_count; i++) {
        if (b->workers[i].started) {
            pthread_join(b->workers[i].thread, NULL);
            b->workers[i].started = 0;
        }
    }
}

void batcher_free(batcher *b) {
    if (!b) return;
    for (int i = 0; i < b->worker_count; i++) {
        free(b->workers[i].inputs);
        free(b->workers[i].logits);
    }
    free(b->workers);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->wake);
    pthread_cond_destroy(&b->lone_wake);
    pthread_cond_destroy(&b->warmed);
    free(b);
}
