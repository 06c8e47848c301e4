#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "model_stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct model_stats {
    pthread_mutex_t lock;
    kserve_stats totals;
};

model_stats *model_stats_create(void) {
    model_stats *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void model_stats_free(model_stats *s) {
    if (!s) return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static void add(kserve_duration *d, uint64_t ns) {
    d->count++;
    d->ns += ns;
}

void model_stats_record_request(model_stats *s, const model_stats_request *r) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    pthread_mutex_lock(&s->lock);
    kserve_stats *t = &s->totals;
    t->last_inference_ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    if (r->ok) {
        /* As in Triton, the phase durations cover successful requests only. */
        add(&t->success, r->total_ns);
        add(&t->queue, r->queue_ns);
        add(&t->compute_input, r->input_ns);
        add(&t->compute_infer, r->infer_ns);
        add(&t->compute_output, r->output_ns);
        t->inference_count += (uint64_t)r->items;
    } else {
        add(&t->fail, r->total_ns);
    }
    pthread_mutex_unlock(&s->lock);
}

void model_stats_record_batch(model_stats *s, int batch_size, uint64_t forward_ns) {
    pthread_mutex_lock(&s->lock);
    s->totals.execution_count++;
    if (batch_size >= 1 && batch_size <= KSERVE_STATS_MAX_BATCH) add(&s->totals.batch_infer[batch_size], forward_ns);
    pthread_mutex_unlock(&s->lock);
}

void model_stats_snapshot(model_stats *s, kserve_stats *out) {
    pthread_mutex_lock(&s->lock);
    memcpy(out, &s->totals, sizeof(*out));
    pthread_mutex_unlock(&s->lock);
}
