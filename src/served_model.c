#include "served_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

static void served_model_free(served_model *sm) {
    if (sm->generation > 0) log_info("model %s (generation %d) freed: its last request is answered", sm->meta.name,
                                     sm->generation);
    model_free(sm->model);
    labels_free(sm->labels);
    preprocess_free(sm->preprocess);
    void (*on_freed)(void *) = sm->on_freed;
    void *on_freed_arg = sm->on_freed_arg;
    free(sm);
    /* A replaced model's weights go back to the kernel, not to malloc's
     * arenas (which keep freed blocks: util_retain_freed_memory). */
    util_release_free_memory();
    if (on_freed) on_freed(on_freed_arg);
}

int served_model_load(const inferd_config *cfg, const model_options *opts, served_model **out, char *err,
                      size_t errlen) {
    *out = NULL;
    uint64_t t0 = util_now_ns();
    served_model *sm = calloc(1, sizeof(*sm));
    if (!sm) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    sm->refs = 1;
    char why[768];
    char *json = NULL;
    if (model_read_metadata(cfg->model_path, &json, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "model %s: %s", cfg->model_path, why);
        goto fail;
    }
    int rc = model_meta_parse(json, &sm->meta, why, sizeof(why));
    free(json);
    if (rc != 0) {
        snprintf(err, errlen, "model %s: %s", cfg->model_path, why);
        goto fail;
    }
    if (model_meta_resolve(&sm->meta, cfg, &sm->preprocess_config, sm->sources, sizeof(sm->sources), why,
                           sizeof(why)) != 0 ||
        preprocess_create(&sm->preprocess_config, &sm->preprocess, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "model %s preprocessing: %s", cfg->model_path, why);
        goto fail;
    }
    sm->tensor_len = preprocess_tensor_len(sm->preprocess);
    if (labels_load(cfg->class_index_path, &sm->labels, err, errlen) != 0) goto fail;

    model_options mo = *opts;
    mo.input_channels = 3;
    mo.input_height = sm->preprocess_config.crop_height;
    mo.input_width = sm->preprocess_config.crop_width;
    /* Its weights in mappings of their own: a reload frees them whole. */
    util_map_large_blocks(1);
    rc = model_load(cfg->model_path, &mo, &sm->model, err, errlen);
    util_map_large_blocks(0);
    if (rc != 0) goto fail;
    sm->num_classes = model_num_classes(sm->model);
    if (sm->num_classes != labels_count(sm->labels)) {
        snprintf(err, errlen, "the model %s outputs %d classes but the labels %s have %d", cfg->model_path,
                 sm->num_classes, cfg->class_index_path, labels_count(sm->labels));
        goto fail;
    }
    if (sm->meta.num_classes > 0 && sm->meta.num_classes != sm->num_classes) {
        snprintf(err, errlen, "the model %s outputs %d classes but its metadata says %d", cfg->model_path,
                 sm->num_classes, sm->meta.num_classes);
        goto fail;
    }
    sm->load_seconds = (double)(util_now_ns() - t0) / 1e9;
    *out = sm;
    return 0;
fail:
    served_model_free(sm);
    return -1;
}

int served_model_warm(served_model *sm, int max_batch, int rounds, int lone_threads, char *err, size_t errlen) {
    uint64_t t0 = util_now_ns();
    /* A reload's warm-up: its activations not left in this thread's heap
     * either (measured: reload_test.py's RSS after the reload). */
    util_map_large_blocks(1);
    float *inputs = calloc((size_t)max_batch * sm->tensor_len, sizeof(float));
    float *logits = malloc(sizeof(float) * (size_t)max_batch * (size_t)sm->num_classes);
    int rc = inputs && logits ? 0 : -1;
    if (rc != 0) snprintf(err, errlen, "out of memory warming up the model");
    for (int n = 1; n <= max_batch && rc == 0; n++)
        for (int round = 0; round < rounds && rc == 0; round++)
            rc = model_forward(sm->model, inputs, n, logits, err, errlen);
    for (int round = 0; lone_threads > 1 && round < rounds && rc == 0; round++)
        rc = model_forward_threads(sm->model, inputs, 1, lone_threads, logits, err, errlen);
    free(inputs);
    free(logits);
    /* The warming thread serves no forwards: its OpenMP team would count
     * against the workers' (model_release_thread_team). */
    model_release_thread_team();
    util_map_large_blocks(0);
    sm->warm_seconds = (double)(util_now_ns() - t0) / 1e9;
    return rc;
}

void served_model_acquire(served_model *sm) { __atomic_add_fetch(&sm->refs, 1, __ATOMIC_RELAXED); }

void served_model_release(served_model *sm) {
    if (sm && __atomic_sub_fetch(&sm->refs, 1, __ATOMIC_ACQ_REL) == 0) served_model_free(sm);
}
