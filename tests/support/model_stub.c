/* A stand-in for the libtorch shim (include/model.h) used by the fuzzers and
 * by tests of the HTTP layer that must not depend on a model file: its
 * "logits" are a cheap deterministic function of the input, so results
 * still depend on the image. Never linked into inferd itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

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

int model_forward(model *m, const float *input, int batch, float *logits, char *err, size_t errlen) {
    if (batch <= 0) {
        snprintf(err, errlen, "batch must be positive");
        return -1;
    }
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
