/* model_slot: the model being served now, and replacing it without
 * dropping a request. A request takes the current served_model (a
 * reference) when it starts and answers entirely with it; a reload loads
 * and warms the new model while the old one keeps answering, then swaps
 * the pointer, so new requests (and their batches) go to the new one while
 * those already running finish on the old one, which is freed when its last
 * reference goes. Reloads are serialised: a second one while one runs is
 * refused (busy), not queued. A failed load or warm-up leaves the old model
 * serving. It owns the swap, the serialisation and the reload statistics;
 * not the signal or the HTTP endpoint that ask for a reload. */
#ifndef INFERD_MODEL_SLOT_H
#define INFERD_MODEL_SLOT_H

#include <stddef.h>

#include "config.h"
#include "model.h"
#include "served_model.h"

typedef struct model_slot model_slot;

typedef struct {
    const inferd_config *cfg; /* model_path, class_index_path and preprocessing overrides: read at each reload */
    model_options model_opts; /* threads, precision, optimize */
    int warmup_max_batch;
    int warmup_rounds;
    int warmup_lone_threads; /* the batcher's lone_threads (0: off) */
    /* Called when a replaced model is freed (its last request answered),
     * on that request's thread; NULL for none. */
    void (*replaced_model_freed)(void *arg);
    void *replaced_model_freed_arg;
} model_slot_options;

/* Takes over the caller's reference to initial. */
int model_slot_create(const model_slot_options *opts, served_model *initial, model_slot **out, char *err,
                      size_t errlen);
/* Drops the slot's reference to the current model (requests still holding
 * one keep it alive). */
void model_slot_free(model_slot *s);

/* The current model with a reference the caller must served_model_release. */
served_model *model_slot_acquire(model_slot *s);

typedef enum {
    MODEL_RELOAD_OK = 0,
    MODEL_RELOAD_BUSY,   /* another reload is running */
    MODEL_RELOAD_FAILED  /* err says why; the old model keeps serving */
} model_reload_status;

/* Loads and warms the configured files, then swaps them in. Blocks for the
 * load (seconds); safe from any thread. */
model_reload_status model_slot_reload(model_slot *s, const char *trigger, char *err, size_t errlen);

typedef struct {
    int generation;             /* of the current model */
    int reloading;              /* a reload is running */
    long long reloads_ok, reloads_failed;
    double load_seconds, warm_seconds; /* of the current model */
    char last_error[768];       /* of the last failed reload, "" if none */
} model_slot_stats;

void model_slot_get_stats(model_slot *s, model_slot_stats *out);

#endif
