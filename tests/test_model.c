/* unit_model: the libtorch shim against the seeded test model. The server's
 * workers share one loaded module, so the contract checked here is that
 * concurrent forwards on it give bit-identical logits to sequential ones, at
 * batch sizes that differ between the threads; that an image's logits do not
 * depend on the batch it runs in; plus the shim's error paths.
 *   test_model MODEL.pt */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model.h"

enum { SIDE = 224, PIXELS = 3 * SIDE * SIDE, ROUNDS = 6 };

typedef struct {
    model *m;
    const float *input;
    int batch;
    const float *expected; /* batch * classes logits from a sequential run */
    int classes;
    int mismatches, failures;
} concurrent_run;

static void fill(float *x, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 2654435761u + seed * 40503u) % 2001) / 1000.0f - 1.0f;
}

static void *forward_repeatedly(void *arg) {
    concurrent_run *r = arg;
    float *logits = malloc(sizeof(float) * (size_t)r->batch * (size_t)r->classes);
    char err[256];
    for (int i = 0; logits && i < ROUNDS; i++) {
        if (model_forward(r->m, r->input, r->batch, logits, err, sizeof(err)) != 0) r->failures++;
        else if (memcmp(logits, r->expected, sizeof(float) * (size_t)r->batch * (size_t)r->classes) != 0)
            r->mismatches++;
    }
    if (!logits) r->failures++;
    free(logits);
    return NULL;
}

/* The model as the server's workers load it: one intra-op thread. NULL
 * (a failed check) when it does not load. */
static model *load_one_thread(const char *path) {
    model_options opts;
    model_options_default(&opts);
    opts.intra_op_threads = 1;
    model *m = NULL;
    char err[512] = "";
    CHECK_MSG(model_load(path, &opts, &m, err, sizeof(err)) == 0, "load: %s", err);
    return m;
}

static void test_concurrent_forwards_match_sequential(const char *path) {
    char err[512] = "";
    model *m = load_one_thread(path);
    if (!m) return;
    int classes = model_num_classes(m);
    CHECK_EQ_INT(classes, 1000);
    CHECK(strstr(model_metadata(m), "\"weights\"") != NULL);

    /* Thread A runs one image, thread B a batch of two whose second image is
     * A's: batch composition must not change an image's logits either. */
    float *in_a = malloc(sizeof(float) * PIXELS), *in_b = malloc(sizeof(float) * 2 * PIXELS);
    float *out_a = malloc(sizeof(float) * (size_t)classes), *out_b = malloc(sizeof(float) * 2 * (size_t)classes);
    if (!CHECK(in_a && in_b && out_a && out_b)) goto done;
    fill(in_a, PIXELS, 1);
    fill(in_b, PIXELS, 2);
    memcpy(in_b + PIXELS, in_a, sizeof(float) * PIXELS);
    CHECK(model_forward(m, in_a, 1, out_a, err, sizeof(err)) == 0);
    CHECK(model_forward(m, in_b, 2, out_b, err, sizeof(err)) == 0);
    CHECK(memcmp(out_b, out_b + classes, sizeof(float) * (size_t)classes) != 0);
    /* Batching must not change an image's logits at all (fp32, the
     * server's one intra-op thread): image A alone and at every position of
     * batches of 2..4 give bit-identical logits. */
    CHECK(memcmp(out_b + classes, out_a, sizeof(float) * (size_t)classes) == 0);
    float *in_n = malloc(sizeof(float) * 4 * PIXELS), *out_n = malloc(sizeof(float) * 4 * (size_t)classes);
    if (CHECK(in_n && out_n)) {
        for (int n = 2; n <= 4; n++) {
            for (int at = 0; at < n; at++) {
                for (int j = 0; j < n; j++) fill(in_n + (size_t)j * PIXELS, PIXELS, 10u + (unsigned)j);
                memcpy(in_n + (size_t)at * PIXELS, in_a, sizeof(float) * PIXELS);
                CHECK(model_forward(m, in_n, n, out_n, err, sizeof(err)) == 0);
                CHECK_MSG(memcmp(out_n + (size_t)at * classes, out_a, sizeof(float) * (size_t)classes) == 0,
                          "image A at position %d of a batch of %d: logits differ from batch 1", at, n);
            }
        }
    }
    free(in_n);
    free(out_n);

    concurrent_run runs[2] = {
        {.m = m, .input = in_a, .batch = 1, .expected = out_a, .classes = classes},
        {.m = m, .input = in_b, .batch = 2, .expected = out_b, .classes = classes},
    };
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&threads[i], NULL, forward_repeatedly, &runs[i]) == 0);
    for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(runs[i].failures, 0);
        CHECK_EQ_INT(runs[i].mismatches, 0);
    }
done:
    free(in_a);
    free(in_b);
    free(out_a);
    free(out_b);
    model_free(m);
}

typedef struct {
    model *m;
    const float *input;
    float *logits;
    int threads_during, threads_after;
    int rc;
} boosted_run;

static void *forward_on_two_threads(void *arg) {
    boosted_run *r = arg;
    char err[256];
    r->rc = model_forward_threads(r->m, r->input, 1, 2, r->logits, err, sizeof(err));
    r->threads_during = model_thread_count();
    return NULL;
}

/* The lone-request boost relies on two things checked here: a thread's
 * intra-op count is its own (a neighbour asking for 2 leaves this thread at
 * 1), and the count does not change an image's fp32 logits, so a request
 * answered on two threads gets the same answer as in a batch on one. */
static void test_thread_count_is_per_thread(const char *path) {
    char err[512] = "";
    model *m = load_one_thread(path);
    if (!m) return;
    int classes = model_num_classes(m);
    float *in = malloc(sizeof(float) * PIXELS), *one = malloc(sizeof(float) * (size_t)classes),
          *two = malloc(sizeof(float) * (size_t)classes);
    if (CHECK(in && one && two)) {
        fill(in, PIXELS, 3);
        CHECK(model_forward(m, in, 1, one, err, sizeof(err)) == 0);
        CHECK_EQ_INT(model_thread_count(), 1);
        boosted_run r = {.m = m, .input = in, .logits = two};
        pthread_t t;
        if (CHECK(pthread_create(&t, NULL, forward_on_two_threads, &r) == 0)) {
            pthread_join(t, NULL);
            CHECK_EQ_INT(r.rc, 0);
            CHECK_EQ_INT(r.threads_during, 2);
            CHECK_EQ_INT(model_thread_count(), 1); /* this thread kept its own */
            CHECK_MSG(memcmp(one, two, sizeof(float) * (size_t)classes) == 0,
                      "logits on two intra-op threads differ from one");
        }
        /* And back on this thread: asking 2 then the default returns to 1. */
        CHECK(model_forward_threads(m, in, 1, 2, two, err, sizeof(err)) == 0);
        CHECK_EQ_INT(model_thread_count(), 2);
        CHECK(model_forward(m, in, 1, two, err, sizeof(err)) == 0);
        CHECK_EQ_INT(model_thread_count(), 1);
        CHECK(memcmp(one, two, sizeof(float) * (size_t)classes) == 0);
    }
    free(in);
    free(one);
    free(two);
    model_free(m);
}

static void test_errors(const char *path) {
    model_options opts;
    model_options_default(&opts);
    model *m = (model *)&opts;
    char err[512] = "";
    CHECK(model_load("/nonexistent/model.pt", &opts, &m, err, sizeof(err)) != 0);
    CHECK(m == NULL);
    CHECK(strstr(err, "/nonexistent/model.pt") != NULL);

    opts.input_height = opts.input_width = 7; /* DenseNet cannot pool a 7x7 input down */
    err[0] = 0;
    CHECK(model_load(path, &opts, &m, err, sizeof(err)) != 0);
    CHECK(err[0] != 0);

    model_options_default(&opts);
    opts.intra_op_threads = 1;
    if (!CHECK(model_load(path, &opts, &m, err, sizeof(err)) == 0)) return;
    float logits[1000];
    err[0] = 0;
    CHECK(model_forward(m, NULL, 0, logits, err, sizeof(err)) != 0);
    CHECK(strstr(err, "batch") != NULL);
    model_free(m);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.pt\n", argv[0]);
        return 2;
    }
    test_concurrent_forwards_match_sequential(argv[1]);
    test_thread_count_is_per_thread(argv[1]);
    test_errors(argv[1]);
    return check_summary();
}
