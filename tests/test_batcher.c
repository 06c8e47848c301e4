/* The batcher's overload behaviour with the stub model (no libtorch): a job
 * whose deadline has passed, or whose client is gone, leaves the queue
 * without a forward; the queue deadline and expected wait come from the
 * measured forward time; the depth is readable without the lock. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batcher.h"
#include "check.h"
#include "model.h"
#include "model_stub.h"
#include "util.h"

#define TENSOR_LEN (3 * 224 * 224)

static sem_t done_sem;     /* posted by every finished job */
static sem_t release_sem;  /* lets the blocking job's done() return */
static int images_forwarded;

static int boosted_forwards;

static void count_batch(void *ctx, int batch_size, double seconds, int boosted) {
    (void)ctx, (void)seconds;
    __atomic_add_fetch(&images_forwarded, batch_size, __ATOMIC_SEQ_CST);
    if (boosted) __atomic_add_fetch(&boosted_forwards, 1, __ATOMIC_SEQ_CST);
}

static void job_done(batch_job *job) {
    (void)job;
    sem_post(&done_sem);
}

/* Holds the only worker inside this job's completion, so the jobs
 * submitted meanwhile stay queued. */
static void blocking_done(batch_job *job) {
    (void)job;
    sem_post(&done_sem);
    sem_wait(&release_sem);
}

static int client_gone(batch_job *job) {
    (void)job;
    return 1;
}

static int client_here(batch_job *job) {
    (void)job;
    return 0;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void prepare(batch_job *job, float *input, float *logits, batch_job_done_fn done) {
    memset(job, 0, sizeof(*job));
    job->input = input;
    job->logits = logits;
    job->done = done;
}

/* A batcher on count workers, warmed up; NULL (a failed check) if not. */
static batcher *start_warm(model **models, int count, const batcher_options *opts, model *m) {
    batcher *b = NULL;
    char err[256];
    if (!CHECK(batcher_create(models, count, opts, TENSOR_LEN, model_num_classes(m), &b, err, sizeof(err)) == 0))
        return NULL;
    CHECK(batcher_wait_warm(b, 10000) == 1);
    return b;
}

static void test_dropped_before_forward(model *m, int request_timeout_ms) {
    batcher_options opts = {.max_batch = 1, .queue_capacity = 8, .request_timeout_ms = request_timeout_ms,
                            .on_batch = count_batch};
    model *models[1] = {m};
    batcher *b = start_warm(models, 1, &opts, m);
    if (!b) return;
    images_forwarded = 0;

    float *input = calloc(TENSOR_LEN, sizeof(float));
    float *logits = calloc(5 * (size_t)model_num_classes(m), sizeof(float));
    batch_job jobs[5];
    prepare(&jobs[0], input, logits, blocking_done);
    CHECK_EQ_INT(batcher_submit(b, &jobs[0]), BATCHER_SUBMITTED);
    sem_wait(&done_sem); /* job 0 ran; the worker is held in its done() */

    uint64_t now = util_now_ns();
    for (int i = 1; i < 5; i++) prepare(&jobs[i], input, logits + (size_t)i * model_num_classes(m), job_done);
    jobs[1].deadline_ns = now + 1000000u;  /* 1 ms: passed by the time the worker is back */
    jobs[2].abandoned = client_gone;       /* its client closed */
    jobs[3].abandoned = client_here;       /* still wanted */
    jobs[4].deadline_ns = now + 60000000000ull;
    for (int i = 1; i < 5; i++) CHECK_EQ_INT(batcher_submit(b, &jobs[i]), BATCHER_SUBMITTED);
    CHECK_EQ_INT(batcher_queue_depth(b), 4);
    CHECK_EQ_INT(batcher_queue_capacity(b), 8);
    /* After one measured forward, the wait behind 4 images is estimated. */
    CHECK(batcher_expected_wait_ns(b, 4) > 0);
    CHECK_EQ_U64(batcher_expected_wait_ns(b, 0), 0);
    sleep_ms(20);
    sem_post(&release_sem);
    for (int i = 1; i < 5; i++) sem_wait(&done_sem);

    CHECK_EQ_INT(jobs[0].status, BATCH_JOB_OK);
    CHECK_EQ_INT(jobs[1].status, BATCH_JOB_TIMEOUT);
    CHECK_EQ_INT(jobs[2].status, BATCH_JOB_ABANDONED);
    CHECK_EQ_INT(jobs[3].status, BATCH_JOB_OK);
    CHECK_EQ_INT(jobs[4].status, BATCH_JOB_OK);
    CHECK_EQ_INT(jobs[1].started_ns, 0); /* never started: no forward */
    CHECK_EQ_INT(jobs[2].started_ns, 0);
    CHECK_EQ_INT(__atomic_load_n(&images_forwarded, __ATOMIC_SEQ_CST), 3); /* jobs 0, 3 and 4 only */
    CHECK_EQ_INT(batcher_queue_depth(b), 0);

    /* The queue deadline: as configured, or measured (at least 1 s). */
    if (request_timeout_ms > 0)
        CHECK_EQ_U64(batcher_queue_deadline_ns(b), (uint64_t)request_timeout_ms * 1000000u);
    else
        CHECK(batcher_queue_deadline_ns(b) >= 1000000000u);

    batcher_stop(b);
    batcher_free(b);
    free(input);
    free(logits);
}

/* The queue deadline alone (request_timeout_ms) expires a job left
 * waiting, without a forward. */
static void test_queue_deadline(model *m) {
    batcher_options opts = {.max_batch = 1, .queue_capacity = 8, .request_timeout_ms = 5, .on_batch = count_batch};
    model *models[1] = {m};
    batcher *b = start_warm(models, 1, &opts, m);
    if (!b) return;
    images_forwarded = 0;
    float *input = calloc(TENSOR_LEN, sizeof(float));
    float *logits = calloc(2 * (size_t)model_num_classes(m), sizeof(float));
    batch_job jobs[2];
    prepare(&jobs[0], input, logits, blocking_done);
    prepare(&jobs[1], input, logits + model_num_classes(m), job_done);
    CHECK_EQ_INT(batcher_submit(b, &jobs[0]), BATCHER_SUBMITTED);
    sem_wait(&done_sem);
    CHECK_EQ_INT(batcher_submit(b, &jobs[1]), BATCHER_SUBMITTED);
    sleep_ms(30);
    sem_post(&release_sem);
    sem_wait(&done_sem);
    CHECK_EQ_INT(jobs[1].status, BATCH_JOB_TIMEOUT);
    CHECK_EQ_INT(__atomic_load_n(&images_forwarded, __ATOMIC_SEQ_CST), 1);
    batcher_stop(b);
    batcher_free(b);
    free(input);
    free(logits);
}

/* An announced image ends its announcement as it is submitted, also when
 * the queue refuses it: a worker holding a partial batch for announced
 * images then runs what it has, without waiting out the batch delay. */
static void test_submit_expected(model *m) {
    batcher_options opts = {.max_batch = 4, .batch_delay_us = 5000000, .queue_capacity = 2, .on_batch = count_batch};
    model *models[1] = {m};
    batcher *b = start_warm(models, 1, &opts, m);
    if (!b) return;
    float *input = calloc(TENSOR_LEN, sizeof(float));
    float *logits = calloc(3 * (size_t)model_num_classes(m), sizeof(float));
    batch_job jobs[3];
    for (int i = 0; i < 3; i++) prepare(&jobs[i], input, logits + (size_t)i * model_num_classes(m), job_done);
    uint64_t t0 = util_now_ns();
    batcher_expect(b, 3);
    CHECK_EQ_INT(batcher_submit_expected(b, &jobs[0]), BATCHER_SUBMITTED);
    CHECK_EQ_INT(batcher_submit_expected(b, &jobs[1]), BATCHER_SUBMITTED);
    sleep_ms(50); /* the worker holds jobs 0 and 1 for the third */
    CHECK_EQ_INT(jobs[0].started_ns, 0);
    CHECK_EQ_INT(batcher_submit_expected(b, &jobs[2]), BATCHER_FULL);
    sem_wait(&done_sem);
    sem_wait(&done_sem);
    /* Well under the 5 s delay: the refused job's announcement ended. */
    CHECK_MSG(util_now_ns() - t0 < 3000000000ull, "the batch waited %.1f s", (double)(util_now_ns() - t0) / 1e9);
    CHECK_EQ_INT(jobs[0].status, BATCH_JOB_OK);
    CHECK_EQ_INT(jobs[1].status, BATCH_JOB_OK);
    CHECK_EQ_INT(jobs[0].batch_size, 2);
    batcher_stop(b);
    batcher_free(b);
    free(input);
    free(logits);
}

/* Runs count lone requests one after another; returns how many of them
 * ran boosted. */
static int run_lone_requests(batcher *b, float *input, float *logits, int count) {
    int before = __atomic_load_n(&boosted_forwards, __ATOMIC_SEQ_CST);
    for (int i = 0; i < count; i++) {
        batch_job job;
        prepare(&job, input, logits, job_done);
        if (!CHECK_EQ_INT(batcher_submit(b, &job), BATCHER_SUBMITTED)) break;
        sem_wait(&done_sem);
        CHECK_EQ_INT(job.status, BATCH_JOB_OK);
    }
    return __atomic_load_n(&boosted_forwards, __ATOMIC_SEQ_CST) - before;
}

/* The lone-request boost (issue 14): a lone request runs on lone_threads
 * while that is measured faster, falls back when a busy neighbour makes it
 * slower, and never boosts a request that has company. The stub's forward
 * times stand in for the two thread counts. */
static void test_lone_request_policy(model *m) {
    batcher_options opts = {.max_batch = 1, .queue_capacity = 16, .lone_threads = 2, .on_batch = count_batch};
    model *models[2] = {m, m};
    model_stub_set_forward_delay(1, 8000);
    model_stub_set_forward_delay(2, 3000);
    batcher *b = start_warm(models, 2, &opts, m);
    if (!b) return;
    float *input = calloc(TENSOR_LEN, sizeof(float));
    float *logits = calloc(8 * (size_t)model_num_classes(m), sizeof(float));
    batcher_lone_stats st;

    /* Both ways measured first (base, then boosted), then the faster one:
     * of 16, all but the first and one exploring run are boosted. */
    int boosted = run_lone_requests(b, input, logits, 16);
    batcher_lone_policy(b, &st);
    CHECK_MSG(boosted >= 13 && boosted <= 15, "boosted %d of 16 lone requests", boosted);
    CHECK(st.base_ns >= 8000000u && st.boosted_ns >= 3000000u && st.boosted_ns < st.base_ns);
    CHECK_EQ_INT(st.lone_runs, 16);
    CHECK_EQ_INT(st.boost_next, 1);

    /* A busy neighbour: the boost now takes longer than one thread. Within
     * a few runs the policy falls back, then boosts only to explore, less
     * and less often. */
    model_stub_set_forward_delay(2, 20000);
    run_lone_requests(b, input, logits, 8);
    boosted = run_lone_requests(b, input, logits, 16);
    batcher_lone_policy(b, &st);
    CHECK_MSG(boosted <= 2, "boosted %d of 16 lone requests while the boost was slower", boosted);
    CHECK(st.boosted_ns > st.base_ns);

    /* The neighbour leaves: exploration sees the boost faster again (the
     * explorations are sparser by now, so this takes a few dozen). */
    model_stub_set_forward_delay(2, 3000);
    run_lone_requests(b, input, logits, 64);
    boosted = run_lone_requests(b, input, logits, 16);
    CHECK_MSG(boosted >= 13, "boosted %d of 16 lone requests after the boost was fast again", boosted);

    /* Company: a burst of eight never boosts (each has others announced,
     * queued or beside it), except possibly the last if it ends alone. The
     * eight are announced first, as the HTTP layer announces the images it
     * decodes: a job taken before the next is queued has company then. */
    int before = __atomic_load_n(&boosted_forwards, __ATOMIC_SEQ_CST);
    batch_job jobs[8];
    batcher_expect(b, 8);
    for (int i = 0; i < 8; i++) {
        prepare(&jobs[i], input, logits + (size_t)i * model_num_classes(m), job_done);
        CHECK_EQ_INT(batcher_submit_expected(b, &jobs[i]), BATCHER_SUBMITTED);
    }
    for (int i = 0; i < 8; i++) sem_wait(&done_sem);
    int burst_boosted = __atomic_load_n(&boosted_forwards, __ATOMIC_SEQ_CST) - before;
    CHECK_MSG(burst_boosted <= 1, "boosted %d of a burst of 8", burst_boosted);

    /* Every boosted forward (warm-up included) ran on one worker: each
     * thread that ran on two threads keeps an OpenMP team, and two teams
     * beside the workers would put a 2-CPU box over its CPUs. The burst's
     * other worker took jobs too, on its own thread count. */
    CHECK_EQ_INT(model_stub_threads_holding_teams(), 1);

    batcher_stop(b);
    batcher_free(b);
    model_stub_set_forward_delay(1, 0);
    model_stub_set_forward_delay(2, 0);
    free(input);
    free(logits);
}

/* The OpenMP budget: one extra team for the lone worker, within the CPUs. */
static void test_lone_threads_that_fit(void) {
    CHECK_EQ_INT(batcher_lone_threads_that_fit(2, 2, 1, 2), 2);  /* the default on 2 CPUs */
    CHECK_EQ_INT(batcher_lone_threads_that_fit(2, 2, 1, 8), 2);  /* capped at the CPUs */
    CHECK_EQ_INT(batcher_lone_threads_that_fit(2, 1, 2, 2), 0);  /* no more than the worker's own */
    CHECK_EQ_INT(batcher_lone_threads_that_fit(4, 2, 2, 4), 3);  /* the other worker's team takes one */
    CHECK_EQ_INT(batcher_lone_threads_that_fit(8, 4, 2, 8), 5);
    CHECK_EQ_INT(batcher_lone_threads_that_fit(4, 2, 3, 4), 0);  /* already over: none fits */
    CHECK_EQ_INT(batcher_lone_threads_that_fit(8, 8, 1, 8), 8);
}

int main(void) {
    sem_init(&done_sem, 0, 0);
    sem_init(&release_sem, 0, 0);
    model_options mo;
    model_options_default(&mo);
    model *m = NULL;
    char err[256];
    if (!CHECK(model_load("stub", &mo, &m, err, sizeof(err)) == 0)) return check_summary();
    test_dropped_before_forward(m, 0);
    test_dropped_before_forward(m, 60000);
    test_queue_deadline(m);
    test_submit_expected(m);
    test_lone_request_policy(m);
    test_lone_threads_that_fit();
    model_free(m);
    return check_summary();
}
