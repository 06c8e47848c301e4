/* metrics: the server's counters and histograms, rendered in Prometheus
 * text exposition format for GET /metrics. Thread-safe recording from HTTP
 * and model threads; it measures nothing itself except the process RSS. */
#ifndef INFERD_METRICS_H
#define INFERD_METRICS_H

#include <stddef.h>

typedef struct metrics metrics;

metrics *metrics_create(void);
void metrics_free(metrics *m);

/* route is a fixed label such as "/", "/metrics", "/v2/models/infer", "other". */
void metrics_observe_request(metrics *m, const char *route, int status, double seconds);
void metrics_observe_preprocess(metrics *m, double seconds);
void metrics_observe_queue_wait(metrics *m, double seconds);
/* boosted: the forward ran a lone request on lone_request_threads. */
void metrics_observe_batch(metrics *m, int batch_size, double forward_seconds, int boosted);
void metrics_count_image(metrics *m, int ok);

/* Work the server sheds under overload or for clients that left. */
typedef enum {
    METRICS_ADMISSION_QUEUE_FULL,  /* request refused at its headers: queue + preparing at capacity */
    METRICS_ADMISSION_DEADLINE,    /* request refused at its headers: expected queue wait > its deadline */
    METRICS_EXPIRED_SERVER,        /* image whose queue deadline (request_timeout_ms) passed before a forward */
    METRICS_EXPIRED_CLIENT,        /* image whose client deadline (X-Request-Timeout-Ms) passed before a forward */
    METRICS_CANCELLED_QUEUED,      /* image dropped from the queue because its client closed the connection */
    METRICS_CANCELLED_OTHER,       /* request whose client closed before its answer, at any other point */
    METRICS_SHED_KINDS
} metrics_shed_kind;
void metrics_count_shed(metrics *m, metrics_shed_kind kind);

typedef struct {
    int in_flight;
    int queue_depth;
    int ready;
    const char *model_name;
    const char *weights;
    const char *precision;
    /* the model being served and its reloads (model_slot_stats) */
    double model_load_seconds;
    double model_warm_seconds;
    long long model_reloads;        /* successful reloads */
    long long model_reload_failures;
    int model_generation;           /* 1 + successful reloads */
} metrics_gauges;

/* Returns malloc'd text (caller frees), NULL when out of memory. */
char *metrics_render(metrics *m, const metrics_gauges *g);

/* Resident set size of this process in bytes (0 if unknown). */
long long metrics_process_rss_bytes(void);

#endif
