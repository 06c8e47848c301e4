#define _POSIX_C_SOURCE 200809L
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_BUCKETS 16
#define MAX_REQUEST_SERIES 64

typedef struct {
    const char *name;
    const char *help;
    int bucket_count;
    double bounds[MAX_BUCKETS];
    unsigned long long counts[MAX_BUCKETS + 1]; /* last: +Inf */
    double sum;
    unsigned long long total;
} histogram;

typedef struct {
    char route[32];
    int status;
    unsigned long long count;
} request_series;

struct metrics {
    pthread_mutex_t lock;
    histogram request, preprocess, queue_wait, forward, batch;
    request_series requests[MAX_REQUEST_SERIES];
    int request_series_count;
    unsigned long long images_ok, images_failed;
    unsigned long long shed[METRICS_SHED_KINDS];
    unsigned long long forwards[2]; /* [1]: a lone request on lone_request_threads */
};

static const double latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1,
                                        0.15,  0.25,   0.5,   1.0,  2.5,   5.0,  10.0};
static const double batch_bounds[] = {1, 2, 3, 4, 6, 8, 12, 16, 32, 64};

static void histogram_init(histogram *h, const char *name, const char *help, const double *bounds, int n) {
    memset(h, 0, sizeof(*h));
    h->name = name;
    h->help = help;
    h->bucket_count = n;
    memcpy(h->bounds, bounds, sizeof(double) * (size_t)n);
}

static void histogram_observe(histogram *h, double v) {
    int i = 0;
    while (i < h->bucket_count && v > h->bounds[i]) i++;
    h->counts[i]++;
    h->sum += v;
    h->total++;
}

metrics *metrics_create(void) {
    metrics *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    pthread_mutex_init(&m->lock, NULL);
    int nl = (int)(sizeof(latency_bounds) / sizeof(latency_bounds[0]));
    histogram_init(&m->request, "inferd_request_duration_seconds",
                   "Time from the first byte of a request to its answer being queued.", latency_bounds, nl);
    histogram_init(&m->preprocess, "inferd_preprocess_duration_seconds",
                   "Decode + resize + crop + normalise time per image.", latency_bounds, nl);
    histogram_init(&m->queue_wait, "inferd_queue_wait_seconds",
                   "Time an image waited for a model worker.", latency_bounds, nl);
    histogram_init(&m->forward, "inferd_model_forward_seconds", "Duration of one model forward pass (a batch).",
                   latency_bounds, nl);
    histogram_init(&m->batch, "inferd_batch_size", "Images per model forward pass.", batch_bounds,
                   (int)(sizeof(batch_bounds) / sizeof(batch_bounds[0])));
    return m;
}

void metrics_free(metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void metrics_observe_request(metrics *m, const char *route, int status, double seconds) {
    pthread_mutex_lock(&m->lock);
    histogram_observe(&m->request, seconds);
    int i = 0;
    for (; i < m->request_series_count; i++)
        if (m->requests[i].status == status && !strcmp(m->requests[i].route, route)) break;
    if (i == m->request_series_count && i < MAX_REQUEST_SERIES) {
        snprintf(m->requests[i].route, sizeof(m->requests[i].route), "%s", route);
        m->requests[i].status = status;
        m->request_series_count++;
    }
    if (i < m->request_series_count) m->requests[i].count++;
    pthread_mutex_unlock(&m->lock);
}

#define OBSERVER(fn, field)                                                                                            \
    void fn(metrics *m, double seconds) {                                                                              \
        pthread_mutex_lock(&m->lock);                                                                                  \
        histogram_observe(&m->field, seconds);                                                                         \
        pthread_mutex_unlock(&m->lock);                                                                                \
    }
OBSERVER(metrics_observe_preprocess, preprocess)
OBSERVER(metrics_observe_queue_wait, queue_wait)

void metrics_observe_batch(metrics *m, int batch_size, double forward_seconds, int boosted) {
    pthread_mutex_lock(&m->lock);
    m->forwards[boosted ? 1 : 0]++;
    histogram_observe(&m->batch, batch_size);
    histogram_observe(&m->forward, forward_seconds);
    pthread_mutex_unlock(&m->lock);
}

void metrics_count_image(metrics *m, int ok) {
    pthread_mutex_lock(&m->lock);
    if (ok)
        m->images_ok++;
    else
        m->images_failed++;
    pthread_mutex_unlock(&m->lock);
}

void metrics_count_shed(metrics *m, metrics_shed_kind kind) {
    if (kind < 0 || kind >= METRICS_SHED_KINDS) return;
    pthread_mutex_lock(&m->lock);
    m->shed[kind]++;
    pthread_mutex_unlock(&m->lock);
}

long long metrics_process_rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long long pages_total = 0, pages_resident = 0;
    if (!f) return 0;
    int n = fscanf(f, "%lld %lld", &pages_total, &pages_resident);
    fclose(f);
    return n == 2 ? pages_resident * sysconf(_SC_PAGESIZE) : 0;
}

typedef struct {
    char *text;
    size_t len, cap;
    int failed;
} text_buffer;

static void append(text_buffer *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(text_buffer *b, const char *fmt, ...) {
    if (b->failed) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->text + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *grown = realloc(b->text, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->text = grown;
        b->cap = cap;
    }
}

/* Label values come from fixed strings, but escape anyway per the format. */
static void append_label_value(text_buffer *b, const char *v) {
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\' || *p == '"') append(b, "\\%c", *p);
        else if (*p == '\n') append(b, "\\n");
        else append(b, "%c", *p);
    }
}

static void render_histogram(text_buffer *b, const histogram *h) {
    append(b, "# HELP %s %s\n# TYPE %s histogram\n", h->name, h->help, h->name);
    unsigned long long cumulative = 0;
    for (int i = 0; i < h->bucket_count; i++) {
        cumulative += h->counts[i];
        append(b, "%s_bucket{le=\"%g\"} %llu\n", h->name, h->bounds[i], cumulative);
    }
    cumulative += h->counts[h->bucket_count];
    append(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", h->name, cumulative, h->name, h->sum,
           h->name, h->total);
}

char *metrics_render(metrics *m, const metrics_gauges *g) {
    text_buffer b = {.cap = 8192};
    b.text = malloc(b.cap);
    if (!b.text) return NULL;
    b.text[0] = '\0';
    pthread_mutex_lock(&m->lock);
    append(&b, "# HELP inferd_requests_total HTTP requests answered, by route and status code.\n"
               "# TYPE inferd_requests_total counter\n");
    for (int i = 0; i < m->request_series_count; i++) {
        append(&b, "inferd_requests_total{route=\"");
        append_label_value(&b, m->requests[i].route);
        append(&b, "\",code=\"%d\"} %llu\n", m->requests[i].status, m->requests[i].count);
    }
    append(&b, "# HELP inferd_images_total Images processed, by outcome.\n# TYPE inferd_images_total counter\n"
               "inferd_images_total{result=\"ok\"} %llu\ninferd_images_total{result=\"error\"} %llu\n",
           m->images_ok, m->images_failed);
    append(&b, "# HELP inferd_admission_rejected_total Requests refused with 503 right after their headers, "
               "before their body was read, by reason.\n# TYPE inferd_admission_rejected_total counter\n"
               "inferd_admission_rejected_total{reason=\"queue_full\"} %llu\n"
               "inferd_admission_rejected_total{reason=\"deadline\"} %llu\n",
           m->shed[METRICS_ADMISSION_QUEUE_FULL], m->shed[METRICS_ADMISSION_DEADLINE]);
    append(&b, "# HELP inferd_queue_expired_total Images whose deadline passed before their forward "
               "(answered 503 for the server's, 504 for the client's), by whose deadline.\n"
               "# TYPE inferd_queue_expired_total counter\n"
               "inferd_queue_expired_total{deadline=\"server\"} %llu\n"
               "inferd_queue_expired_total{deadline=\"client\"} %llu\n",
           m->shed[METRICS_EXPIRED_SERVER], m->shed[METRICS_EXPIRED_CLIENT]);
    append(&b, "# HELP inferd_client_cancelled_total Work for clients that closed their connection: images "
               "dropped from the queue before a forward (stage queued), requests closed at any other point "
               "(stage other).\n# TYPE inferd_client_cancelled_total counter\n"
               "inferd_client_cancelled_total{stage=\"queued\"} %llu\n"
               "inferd_client_cancelled_total{stage=\"other\"} %llu\n",
           m->shed[METRICS_CANCELLED_QUEUED], m->shed[METRICS_CANCELLED_OTHER]);
    append(&b, "# HELP inferd_model_forwards_total Model forward passes, by intra-op threads: the worker's own "
               "(threads), or a lone request's (lone_request_threads).\n# TYPE inferd_model_forwards_total counter\n"
               "inferd_model_forwards_total{threads=\"worker\"} %llu\n"
               "inferd_model_forwards_total{threads=\"lone\"} %llu\n",
           m->forwards[0], m->forwards[1]);
    render_histogram(&b, &m->request);
    render_histogram(&b, &m->preprocess);
    render_histogram(&b, &m->queue_wait);
    render_histogram(&b, &m->forward);
    render_histogram(&b, &m->batch);
    pthread_mutex_unlock(&m->lock);

    append(&b, "# HELP inferd_requests_in_flight Requests accepted and not yet answered.\n"
               "# TYPE inferd_requests_in_flight gauge\ninferd_requests_in_flight %d\n", g->in_flight);
    append(&b, "# HELP inferd_queue_depth Images waiting for a model worker.\n"
               "# TYPE inferd_queue_depth gauge\ninferd_queue_depth %d\n", g->queue_depth);
    append(&b, "# HELP inferd_ready Whether the model is loaded and warm (1) or not (0).\n"
               "# TYPE inferd_ready gauge\ninferd_ready %d\n", g->ready);
    append(&b, "# HELP inferd_model_info The model being served.\n# TYPE inferd_model_info gauge\n"
               "inferd_model_info{name=\"");
    append_label_value(&b, g->model_name);
    append(&b, "\",weights=\"");
    append_label_value(&b, g->weights);
    append(&b, "\",precision=\"");
    append_label_value(&b, g->precision);
    append(&b, "\"} 1\n");
    append(&b, "# HELP inferd_model_load_seconds Time to load the model being served (metadata, labels, module).\n"
               "# TYPE inferd_model_load_seconds gauge\ninferd_model_load_seconds %.3f\n", g->model_load_seconds);
    append(&b, "# HELP inferd_model_warmup_seconds Time to warm the model being served up.\n"
               "# TYPE inferd_model_warmup_seconds gauge\ninferd_model_warmup_seconds %.3f\n", g->model_warm_seconds);
    append(&b, "# HELP inferd_model_generation 1 for the model loaded at start, +1 per successful reload.\n"
               "# TYPE inferd_model_generation gauge\ninferd_model_generation %d\n", g->model_generation);
    append(&b, "# HELP inferd_model_reloads_total Model reloads (SIGHUP or model control), by result.\n"
               "# TYPE inferd_model_reloads_total counter\n"
               "inferd_model_reloads_total{result=\"ok\"} %lld\ninferd_model_reloads_total{result=\"failed\"} %lld\n",
           g->model_reloads, g->model_reload_failures);
    append(&b, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
               "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %lld\n",
           metrics_process_rss_bytes());
    if (b.failed) {
        free(b.text);
        return NULL;
    }
    return b.text;
}
