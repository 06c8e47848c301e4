/* served_model: one loaded model with everything a request needs to be
 * answered by it alone: the TorchScript module, its labels, its
 * preprocessing, its metadata. Owns loading them together from the
 * configured paths (the model file's metadata supplies the preprocessing
 * defaults; the label count must equal the model's outputs) and the
 * reference count that lets a reload free the old model only when its last
 * request is answered. It does not own warm-up or scheduling (the batcher)
 * nor deciding when to reload (main / the model-control handler). */
#ifndef INFERD_SERVED_MODEL_H
#define INFERD_SERVED_MODEL_H

#include <stddef.h>

#include "config.h"
#include "labels.h"
#include "model.h"
#include "model_meta.h"
#include "preprocess.h"

typedef struct served_model {
    model *model;
    labels *labels;
    preprocess *preprocess;
    preprocess_config preprocess_config;
    model_meta meta;
    int num_classes;
    size_t tensor_len;
    char sources[512];     /* the preprocessing in force and where each value came from */
    double load_seconds;   /* reading the metadata, labels and module, the probe forward */
    double warm_seconds;   /* filled by whoever warms it up */
    int generation;        /* 1 for the first model, +1 per successful reload */
    int refs;              /* atomic; served_model_release frees at 0 */
    /* Called once it is freed, on the thread that dropped the last reference. */
    void (*on_freed)(void *arg);
    void *on_freed_arg;
} served_model;

/* Loads cfg->model_path and cfg->class_index_path. opts gives threads,
 * precision and optimisation; the input size comes from the resolved crop.
 * Returns -1 with err naming what failed (missing file, corrupt archive,
 * bad metadata, label count != model outputs). The result holds 1 ref. */
int served_model_load(const inferd_config *cfg, const model_options *opts, served_model **out, char *err,
                      size_t errlen);

/* Warm-up before serving: rounds forwards of zeros at each batch size
 * 1..max_batch (the first TorchScript calls at a size specialise the graph
 * and create oneDNN primitives), and at batch 1 on lone_threads intra-op
 * threads when that is > 1 (the lone-request boost's primitives). Fills
 * warm_seconds. -1 with err if a forward fails. */
int served_model_warm(served_model *sm, int max_batch, int rounds, int lone_threads, char *err, size_t errlen);

void served_model_acquire(served_model *sm);
/* Drops a reference; the last one frees everything. NULL is allowed. */
void served_model_release(served_model *sm);

#endif
