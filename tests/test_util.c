/* unit_util: the allocator policy the server runs with. After
 * util_retain_freed_memory a 1 MB block comes from the heap (reused, not
 * page-faulted afresh); while util_map_large_blocks is on it gets a mapping
 * of its own when no free chunk holds it, which its free gives back whole
 * (a reloaded model's weights);
 * off restores the heap. util_release_thread_heap gives back what a
 * thread's arena keeps at its top (which malloc_trim does not), and leaves
 * the policy as it was; batcher_release_worker_heaps makes every model
 * worker do so (after a reload). glibc only: elsewhere the calls change
 * nothing. */
#define _GNU_SOURCE
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "batcher.h"
#include "check.h"
#include "model.h"
#include "model_stub.h"
#include "util.h"

#define MB (1024 * 1024)

#ifdef __GLIBC__
static size_t mapped_blocks(void) { return mallinfo2().hblks; }

/* Whether a fresh block of size bytes got a mapping of its own. */
static int block_is_mapped(size_t size) {
    size_t before = mapped_blocks();
    char *p = malloc(size);
    if (!p) return -1;
    memset(p, 1, size);
    size_t during = mapped_blocks();
    free(p);
    size_t after = mapped_blocks();
    CHECK_MSG(after == before, "a freed block's mapping is gone (%zu -> %zu)", before, after);
    return during > before;
}

static long resident_mb(void) {
    long pages_total = 0, pages_resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    int got = fscanf(f, "%ld %ld", &pages_total, &pages_resident);
    fclose(f);
    return got == 2 ? pages_resident * sysconf(_SC_PAGESIZE) / MB : -1;
}

/* Allocates and writes 32 MB in 1 MB blocks, then frees them: in a thread
 * arena they all go back to its top, which stays resident. */
static void fill_and_free_32mb(void) {
    char *blocks[32];
    for (int i = 0; i < 32; i++) {
        blocks[i] = malloc(MB);
        if (blocks[i]) memset(blocks[i], i + 1, MB);
    }
    for (int i = 31; i >= 0; i--) free(blocks[i]);
}

static void *thread_heap_release(void *arg) {
    (void)arg;
    fill_and_free_32mb();
    long held = resident_mb();
    util_release_free_memory();
    long after_trim = resident_mb();
    CHECK_MSG(held - after_trim < 8, "malloc_trim leaves a thread arena's top resident (%ld -> %ld MB): "
              "if this fails, glibc changed and util_release_thread_heap may be needless", held, after_trim);
    util_release_thread_heap();
    long released = resident_mb();
    CHECK_MSG(after_trim - released >= 24, "the thread's arena top goes back to the kernel: %ld -> %ld MB",
              after_trim, released);
    /* The policy is as before: freed blocks stay for reuse. */
    fill_and_free_32mb();
    long refilled = resident_mb();
    util_release_free_memory();
    CHECK_MSG(refilled - released >= 24 && refilled - resident_mb() < 8,
              "after it freed blocks stay resident again: %ld -> %ld MB", released, refilled);
    CHECK_EQ_INT(block_is_mapped(1 << 20), 0);
    return NULL;
}

static void test_thread_heap_release(void) {
    pthread_t t; /* a thread of its own: an arena of its own, not the main one */
    if (!CHECK(pthread_create(&t, NULL, thread_heap_release, NULL) == 0)) return;
    pthread_join(t, NULL);
    /* During a model load (large blocks mapped) it leaves that mode on. */
    util_map_large_blocks(1);
    util_release_thread_heap();
    CHECK_EQ_INT(block_is_mapped(1 << 20), 1);
    util_map_large_blocks(0);
    CHECK_EQ_INT(block_is_mapped(1 << 20), 0);
}

static sem_t jobs_done;

static void job_done(batch_job *job) {
    (void)job;
    sem_post(&jobs_done);
}

/* Runs count one-image jobs at once and waits for them; the number that
 * succeeded. */
static int run_jobs(batcher *b, int count) {
    enum { MAX_JOBS = 8, CLASSES = 1000, TENSOR = 3 * 8 * 8 };
    static float input[TENSOR], logits[MAX_JOBS][CLASSES];
    batch_job jobs[MAX_JOBS];
    int submitted = 0, ok = 0;
    for (int i = 0; i < count && i < MAX_JOBS; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].input = input;
        jobs[i].logits = logits[i];
        jobs[i].done = job_done;
        if (batcher_submit(b, &jobs[i]) == BATCHER_SUBMITTED) submitted++;
    }
    for (int i = 0; i < submitted; i++) sem_wait(&jobs_done);
    for (int i = 0; i < submitted; i++) ok += jobs[i].status == BATCH_JOB_OK;
    return ok;
}

static void test_worker_heaps_release(void) {
    sem_init(&jobs_done, 0, 0);
    model_options mo;
    model_options_default(&mo);
    mo.input_channels = 3;
    mo.input_height = mo.input_width = 8;
    model *m = NULL;
    char err[256];
    if (!CHECK(model_load("stub", &mo, &m, err, sizeof(err)) == 0)) return;
    model *models[2] = {m, m};
    batcher_options opts = {.max_batch = 1, .queue_capacity = 16};
    batcher *b = NULL;
    if (!CHECK(batcher_create(models, 2, &opts, 3 * 8 * 8, model_num_classes(m), &b, err, sizeof(err)) == 0)) {
        model_free(m);
        return;
    }
    CHECK(batcher_wait_warm(b, 10000) == 1);
    /* Both workers run forwards that leave 32 MB each at their arena's top. */
    model_stub_set_forward_scratch(32 * MB);
    model_stub_set_forward_delay(1, 20000);
    CHECK_EQ_INT(run_jobs(b, 8), 8);
    model_stub_set_forward_delay(1, 0);
    model_stub_set_forward_scratch(0);
    util_release_free_memory();
    long held = resident_mb();
    batcher_release_worker_heaps(b); /* returns at once: the workers wait for jobs */
    long released = held;
    for (int i = 0; i < 300 && held - released < 48; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
        released = resident_mb();
    }
    CHECK_MSG(held - released >= 48, "both idle workers give their arenas' tops back: %ld -> %ld MB", held,
              released);
    CHECK_EQ_INT(run_jobs(b, 4), 4); /* and serve on */
    batcher_stop(b);
    batcher_free(b);
    model_free(m);
    sem_destroy(&jobs_done);
}
#endif

int main(void) {
#ifdef __GLIBC__
    util_retain_freed_memory();
    CHECK_EQ_INT(block_is_mapped(1 << 20), 0);
    CHECK_EQ_INT(block_is_mapped(40 << 20), 1); /* above 32 MB still mapped */
    util_map_large_blocks(1);
    util_release_free_memory(); /* a free chunk that holds the block is used first */
    CHECK_EQ_INT(block_is_mapped(1 << 20), 1);
    CHECK_EQ_INT(block_is_mapped(64 << 10), 1);
    CHECK_EQ_INT(block_is_mapped(16 << 10), 0); /* small blocks stay in the heap */
    util_map_large_blocks(0);
    CHECK_EQ_INT(block_is_mapped(1 << 20), 0);
    test_thread_heap_release();
    test_worker_heaps_release();
#endif
    return check_summary();
}
