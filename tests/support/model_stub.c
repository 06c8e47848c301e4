/* A stand-in for the libtorch shim (include/model.h) used by the fuzzers and
 * by tests of the HTTP layer that must not depend on a model file: its
 * "logits" are a cheap deterministic function of the input, so results
 * still depend on the image. Never linked into inferd itself. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_stub.h"

#include <time.h>

#define STUB_CLASSES 1000
#define STUB_METADATA "{\"arch\":\"stub\",\"weights\":\"seeded\",\"seed\":0}"

struct model {
    model_options opts;
};

void model_options_default(model_options *opts) {
    memset(opts, 0, sizeof(*opts));
    opts->optimize = 1;
    opts->input_channels = 3;
    opts->input_height = 224;
    opts->input_width = 224;
}

int model_load(const char *path, const model_options *opts, model **out, char *err, size_t errlen) {
    (void)path;
    *out = calloc(1, sizeof(model));
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    (*out)->opts = *opts;
    return 0;
}

/* The stub's "thread count" is the calling thread's last request, as
 * libtorch's is, so batcher tests can see which count a forward ran with. */
static _Thread_local int stub_threads = 1;
static int forward_delay_us[9];
static size_t forward_scratch;

void model_stub_set_forward_scratch(size_t bytes) { __atomic_store_n(&forward_scratch, bytes, __ATOMIC_SEQ_CST); }

static void use_scratch(void) {
    enum { BLOCK = 1 << 20, MAX_BLOCKS = 256 };
    size_t blocks = __atomic_load_n(&forward_scratch, __ATOMIC_SEQ_CST) / BLOCK;
    char *held[MAX_BLOCKS];
    size_t n = 0;
    for (; n < blocks && n < MAX_BLOCKS; n++) {
        held[n] = malloc(BLOCK);
        if (!held[n]) break;
        memset(held[n], (int)n, BLOCK);
    }
    while (n > 0) free(held[--n]);
}

void model_stub_set_forward_delay(int threads, int us) {
    if (threads >= 1 && threads <= 8) __atomic_store_n(&forward_delay_us[threads], us, __ATOMIC_SEQ_CST);
}

int model_thread_count(void) { return stub_threads; }

/* Like an OpenMP runtime, a thread that ran a forward on more than one
 * thread keeps a team until it lets go of it (model_release_thread_team). */
static _Thread_local int holds_team;
static int threads_holding_teams;

void model_drop_kernel_cache(void) {}

void model_release_thread_team(void) {
    if (holds_team) __atomic_sub_fetch(&threads_holding_teams, 1, __ATOMIC_SEQ_CST);
    holds_team = 0;
}

int model_stub_threads_holding_teams(void) { return __atomic_load_n(&threads_holding_teams, __ATOMIC_SEQ_CST); }

int model_forward(model *m, const float *input, int batch, float *logits, char *err, size_t errlen) {
    return model_forward_threads(m, input, batch, 0, logits, err, errlen);
}

int model_forward_threads(model *m, const float *input, int batch, int threads, float *logits, char *err,
                          size_t errlen) {
    stub_threads = threads > 0 ? threads : m->opts.intra_op_threads > 0 ? m->opts.intra_op_threads : 1;
    if (stub_threads > 1 && !holds_team) {
        holds_team = 1;
        __atomic_add_fetch(&threads_holding_teams, 1, __ATOMIC_SEQ_CST);
    }
    int delay_us = stub_threads <= 8 ? __atomic_load_n(&forward_delay_us[stub_threads], __ATOMIC_SEQ_CST) : 0;
    if (delay_us > 0) {
        struct timespec ts = {delay_us / 1000000, (long)(delay_us % 1000000) * 1000L};
        nanosleep(&ts, NULL);
    }
    if (batch <= 0) {
        snprintf(err, errlen, "batch must be positive");
        return -1;
    }
    use_scratch();
    size_t per = (size_t)m->opts.input_channels * (size_t)m->opts.input_height * (size_t)m->opts.input_width;
    for (int b = 0; b < batch; b++) {
        const float *x = input + (size_t)b * per;
        for (int c = 0; c < STUB_CLASSES; c++) logits[(size_t)b * STUB_CLASSES + c] = x[((size_t)c * 7919u) % per];
    }
    return 0;
}

int model_num_classes(const model *m) {
    (void)m;
    return STUB_CLASSES;
}

const char *model_metadata(const model *m) {
    (void)m;
    return STUB_METADATA;
}

int model_read_metadata(const char *path, char **out, char *err, size_t errlen) {
    (void)path;
    *out = malloc(sizeof(STUB_METADATA));
    if (!*out) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(*out, STUB_METADATA, sizeof(STUB_METADATA));
    return 0;
}

const char *model_quantized_engine(const model *m) {
    (void)m;
    return "";
}

int model_cpu_supports_bf16(void) { return 0; }

void model_free(model *m) { free(m); }
