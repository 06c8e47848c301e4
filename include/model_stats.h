/* model_stats: the per-model counters behind the statistics extension
 * (GET /v2/models/NAME/stats): infer requests that succeeded or failed and
 * their cumulative time in the queue, in input preparation, in the model
 * and in building the answer; model executions by batch size. Thread-safe
 * recording from HTTP and model threads. It measures nothing itself and
 * shapes no JSON (kserve does). */
#ifndef INFERD_MODEL_STATS_H
#define INFERD_MODEL_STATS_H

#include <stdint.h>

#include "kserve.h"

typedef struct model_stats model_stats;

model_stats *model_stats_create(void);
void model_stats_free(model_stats *s);

/* One infer request; the durations are its share, in nanoseconds. */
typedef struct {
    int ok;
    int items;          /* inputs inferred (batch elements); counted when ok */
    uint64_t total_ns;  /* arrival of the body to the answer */
    uint64_t queue_ns, input_ns, infer_ns, output_ns;
} model_stats_request;

void model_stats_record_request(model_stats *s, const model_stats_request *r);

/* One model execution (a batch), from the batcher's workers. */
void model_stats_record_batch(model_stats *s, int batch_size, uint64_t forward_ns);

void model_stats_snapshot(model_stats *s, kserve_stats *out);

#endif
