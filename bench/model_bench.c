/* model_bench: the bare model's limit, through the same shim the server uses.
 * Runs forward passes at each batch size with the given thread settings and
 * prints ms/batch, ms/image and images/s; with --instances N it runs N model
 * copies in N threads at once (the server's model_instances) and reports the
 * combined rate.
 *   model_bench --model M [--threads T] [--instances N] [--batches 1,2,4,8]
 *               [--seconds S] [--precision fp32|bf16] [--no-optimize] [--separate]
 * By default the instances share one loaded module, as the server's do;
 * --separate loads one copy per instance, to compare. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "util.h"

typedef struct {
    model *m;
    int batch;
    double seconds;
    float *input, *logits;
    long images;
    double elapsed;
    int failed;
} bench_run;

static void *run_forwards(void *arg) {
    bench_run *r = arg;
    char err[256];
    /* Warm-up at this batch size, on the thread that measures: a forward
     * on another thread count would leave that thread an OpenMP team of its
     * own (model_release_thread_team). */
    if (model_forward(r->m, r->input, r->batch, r->logits, err, sizeof(err)) != 0) {
        fprintf(stderr, "forward failed: %s\n", err);
        r->failed = 1;
        return NULL;
    }
    uint64_t start = util_now_ns(), limit = start + (uint64_t)(r->seconds * 1e9);
    r->images = 0;
    do {
        if (model_forward(r->m, r->input, r->batch, r->logits, err, sizeof(err)) != 0) {
            fprintf(stderr, "forward failed: %s\n", err);
            r->failed = 1;
            break;
        }
        r->images += r->batch;
    } while (util_now_ns() < limit);
    r->elapsed = (double)(util_now_ns() - start) / 1e9;
    return NULL;
}

int main(int argc, char **argv) {
    util_retain_freed_memory(); /* as the server does: measured with the same allocator policy */
    const char *path = NULL, *batches = "1,2,4,8";
    int threads = 2, instances = 1, separate = 0;
    double seconds = 3.0;
    model_options opts;
    model_options_default(&opts);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--instances") && i + 1 < argc) instances = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batches") && i + 1 < argc) batches = argv[++i];
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc)
            i++, opts.precision = !strcmp(argv[i], "bf16")   ? MODEL_PRECISION_BF16
                                  : !strcmp(argv[i], "int8") ? MODEL_PRECISION_INT8
                                                             : MODEL_PRECISION_FP32;
        else if (!strcmp(argv[i], "--no-optimize")) opts.optimize = 0;
        else if (!strcmp(argv[i], "--separate")) separate = 1;
        else {
            fprintf(stderr, "usage: %s --model M [--threads T] [--instances N] [--batches 1,2,4,8] [--seconds S] "
                            "[--precision fp32|bf16|int8] [--no-optimize] [--separate]\n", argv[0]);
            return 2;
        }
    }
    if (!path || instances < 1 || instances > 16) {
        fprintf(stderr, "model_bench: --model is required; --instances 1..16\n");
        return 2;
    }
    opts.intra_op_threads = threads;
    model *models[16];
    char err[512];
    int loaded = separate ? instances : 1;
    for (int i = 0; i < loaded; i++) {
        if (model_load(path, &opts, &models[i], err, sizeof(err)) != 0) {
            fprintf(stderr, "model_bench: %s\n", err);
            return 1;
        }
    }
    for (int i = loaded; i < instances; i++) models[i] = models[0];
    size_t per_image = 3 * (size_t)opts.input_height * (size_t)opts.input_width;
    printf("# threads=%d instances=%d (%s) precision=%s optimize=%d\n", threads, instances,
           separate ? "separate copies" : "one shared module",
           opts.precision == MODEL_PRECISION_BF16   ? "bf16"
           : opts.precision == MODEL_PRECISION_INT8 ? "int8"
                                                    : "fp32",
           opts.optimize);
    printf("%-6s %12s %12s %10s\n", "batch", "ms/batch", "ms/image", "images/s");
    int status = 0;
    char *list = util_strdup(batches);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int batch = atoi(tok);
        if (batch < 1 || batch > 256) continue;
        bench_run runs[16];
        pthread_t tids[16];
        for (int i = 0; i < instances; i++) {
            runs[i] = (bench_run){.m = models[i], .batch = batch, .seconds = seconds};
            runs[i].input = calloc(per_image * (size_t)batch, sizeof(float));
            runs[i].logits = malloc(sizeof(float) * (size_t)model_num_classes(models[i]) * (size_t)batch);
            for (size_t k = 0; k < per_image * (size_t)batch; k++) runs[i].input[k] = (float)((k * 2654435761u) % 1000) / 500.0f - 1.0f;
        }
        for (int i = 0; i < instances; i++) pthread_create(&tids[i], NULL, run_forwards, &runs[i]);
        double rate = 0, ms_batch = 0;
        for (int i = 0; i < instances; i++) {
            pthread_join(tids[i], NULL);
            status |= runs[i].failed;
            rate += runs[i].images / runs[i].elapsed;
            ms_batch += runs[i].elapsed * 1000.0 / ((double)runs[i].images / batch) / instances;
            free(runs[i].input);
            free(runs[i].logits);
        }
        printf("%-6d %12.2f %12.2f %10.2f\n", batch, ms_batch, 1000.0 / rate, rate);
        fflush(stdout);
    }
    free(list);
    for (int i = 0; i < loaded; i++) model_free(models[i]);
    return status;
}
