#define _GNU_SOURCE /* strcasecmp, strncasecmp */
#include "http.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "kserve.h"

/* interim: the configurable model name arrives with the v2 handler */
#define KSERVE_MODEL_NAME "densenet121"
#include "log.h"
#include "pipeline.h"
#include "response.h"
#include "util.h"

#ifndef INFERD_VERSION
#define INFERD_VERSION "0.1.0"
#endif

/* The browser page, embedded at build time from web/index.html. */
extern const unsigned char inferd_web_page[];
extern const size_t inferd_web_page_len;

#define POST_BUFFER_SIZE (64 * 1024)
#define MAX_TOPK_FIELD 16

struct http_server {
    http_deps deps;
    struct MHD_Daemon *daemon;
    image_limits limits;
    int port;
    atomic_int ready;
    atomic_int draining;
    atomic_int in_flight;
    atomic_int suspended; /* connections waiting for the model */
    atomic_ullong next_request_id;
    /* Slow-client guard: every connection's read deadline (see watchdog). */
    pthread_mutex_t conns_lock;
    struct tracked_conn *conns;
    pthread_t watchdog;
    int watchdog_started;
    atomic_int stopping;
};

/* libmicrohttpd's connection timeout only measures idleness, so a client
 * sending one byte a second keeps a connection forever. Each connection gets
 * a deadline to deliver its request (headers, then body); a watchdog shuts
 * down the socket of any connection past it, and libmicrohttpd then closes
 * it as it would any dropped client. */
typedef struct tracked_conn {
    struct tracked_conn *prev, *next;
    MHD_socket fd;
    _Atomic uint64_t deadline_ns; /* UINT64_MAX while the server, not the client, has the turn */
} tracked_conn;

static uint64_t read_timeout_ns(const http_server *s) {
    return (uint64_t)s->deps.cfg->connection_timeout_s * 1000000000u;
}

static void set_read_deadline(struct MHD_Connection *conn, uint64_t deadline_ns) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    tracked_conn *t = ci ? ci->socket_context : NULL;
    if (t) atomic_store(&t->deadline_ns, deadline_ns);
}

typedef enum {
    ROUTE_ROOT,
    ROUTE_HEALTH,
    ROUTE_READY,
    ROUTE_METRICS,
    ROUTE_INFO,
    ROUTE_V2_SERVER,
    ROUTE_V2_MODEL,
    ROUTE_V2_MODEL_READY,
    ROUTE_V2_INFER,
    ROUTE_NOT_FOUND
} route_id;

/* Fixed metric labels, one per route: never client text. */
static const char *const route_labels[] = {"/",         "/health",          "/ready",
                                           "/metrics",  "/info",            "/v2",
                                           "/v2/models", "/v2/models/ready", "/v2/models/infer",
                                           "other"};

typedef enum { REQ_RECEIVING, REQ_WAITING, REQ_ANSWERED } request_state;

typedef struct {
    uint8_t *data;
    size_t len, cap;
    int closed;       /* its multipart part has ended */
    float *tensor;
    float *logits;
    int status;       /* HTTP status of this image's own result */
    char error[256];
    batch_job job;
} image_item;

typedef struct {
    http_server *server;
    struct MHD_Connection *conn;
    request_state state;
    route_id route;
    char method[16];
    char path[256];
    char request_id[64];
    struct MHD_PostProcessor *post;
    int raw_body;
    int json_body;             /* KServe infer: the body is JSON, kept in json_text */
    char *json_text;
    size_t json_len, json_cap;
    kserve_request kserve;
    image_item *items;
    int item_count, item_cap;
    image_item *current; /* the multipart part being streamed */
    char topk_text[MAX_TOPK_FIELD + 1];
    size_t topk_len;
    int topk;
    uint64_t body_bytes;
    int error_status; /* first request-level error, answered once the body is read */
    char error[256];
    atomic_int pending; /* jobs out at the batcher, plus one guard while submitting */
    uint64_t start_ns;
    int status_sent;
    uint64_t bytes_out;
    double queue_ms, model_ms;
} request;

static void observe_item(http_server *s, const image_item *item);

/* ---- responses ---- */

static enum MHD_Result send_body(request *req, int status, const char *content_type, const char *body,
                                 size_t len, const char *allow) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    if (allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    /* While draining, kept-alive clients are told to reconnect elsewhere. */
    if (atomic_load(&req->server->draining)) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result rc = MHD_queue_response(req->conn, (unsigned int)status, resp);
    MHD_destroy_response(resp);
    req->status_sent = status;
    req->bytes_out = len;
    req->state = REQ_ANSWERED;
    return rc;
}

static enum MHD_Result send_json(request *req, int status, char *json, const char *allow) {
    if (!json) {
        static const char fallback[] = "{\"error\":\"out of memory\"}";
        return send_body(req, 500, "application/json", fallback, sizeof(fallback) - 1, NULL);
    }
    enum MHD_Result rc = send_body(req, status, "application/json", json, strlen(json), allow);
    free(json);
    return rc;
}

static enum MHD_Result send_error(request *req, int status, const char *message) {
    return send_json(req, status, response_error_json(message), NULL);
}

/* ---- request bodies ---- */

static void set_request_error(request *req, int status, const char *message) {
    if (req->error_status) return; /* the first error is the one the client needs */
    req->error_status = status;
    snprintf(req->error, sizeof(req->error), "%s", message);
}

static image_item *add_item(request *req) {
    int max_images = req->server->deps.cfg->max_images;
    if (req->item_count >= max_images) {
        char msg[96];
        snprintf(msg, sizeof(msg), "too many images in one request (limit %d)", max_images);
        set_request_error(req, 413, msg);
        return NULL;
    }
    if (req->item_count == req->item_cap) {
        int cap = req->item_cap ? req->item_cap * 2 : 1;
        image_item *grown = realloc(req->items, sizeof(image_item) * (size_t)cap);
        if (!grown) {
            set_request_error(req, 500, "out of memory");
            return NULL;
        }
        req->items = grown;
        req->item_cap = cap;
    }
    image_item *item = &req->items[req->item_count++];
    memset(item, 0, sizeof(*item));
    return item;
}

static int append_bytes(request *req, image_item *item, const char *data, size_t size) {
    if (size == 0) return 0;
    if (item->len + size > item->cap) {
        size_t cap = item->cap ? item->cap : 64 * 1024;
        while (cap < item->len + size) cap *= 2;
        uint8_t *grown = realloc(item->data, cap);
        if (!grown) {
            set_request_error(req, 500, "out of memory");
            return -1;
        }
        item->data = grown;
        item->cap = cap;
    }
    memcpy(item->data + item->len, data, size);
    item->len += size;
    return 0;
}

static int is_image_field(const char *key) { return key && (!strcmp(key, "image") || !strcmp(key, "images")); }

static enum MHD_Result post_iterator(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                                     const char *content_type, const char *transfer_encoding, const char *data,
                                     uint64_t off, size_t size) {
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding;
    request *req = cls;
    if (req->error_status) return MHD_YES; /* keep reading, answer once the body is in */
    if (is_image_field(key)) {
        if (off == 0 && (!req->current || req->current->closed || req->current->len > 0)) {
            if (req->current) req->current->closed = 1;
            req->current = add_item(req);
            if (!req->current) return MHD_YES;
        }
        if (req->current) append_bytes(req, req->current, data, size);
        return MHD_YES;
    }
    if (req->current) req->current->closed = 1;
    if (key && !strcmp(key, "topk")) {
        if (req->topk_len + size > MAX_TOPK_FIELD) {
            set_request_error(req, 400, "topk must be an integer from 1 to 1000");
            return MHD_YES;
        }
        memcpy(req->topk_text + req->topk_len, data, size);
        req->topk_len += size;
        req->topk_text[req->topk_len] = '\0';
    }
    /* Other fields are ignored, as a form server would. */
    return MHD_YES;
}

/* ---- topk ---- */

static int parse_topk(const char *text, int *out) {
    if (!text || !*text) return -1;
    int v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9' || v > 100000) return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 1000) return -1;
    *out = v;
    return 0;
}

/* ---- model hand-off ---- */

static void job_done(batch_job *job) {
    request *req = job->user;
    if (atomic_fetch_sub(&req->pending, 1) == 1) MHD_resume_connection(req->conn);
}

static void release_pending(request *req) {
    if (atomic_fetch_sub(&req->pending, 1) == 1) MHD_resume_connection(req->conn);
}

/* Decodes every image of a fully received request, then submits the good ones
 * together (so that they can share a batch) and suspends the connection. The
 * connection is resumed, and answered, once the last job is done; when no
 * image reaches the model it is resumed at once. */
static void start_inference(request *req) {
    http_server *s = req->server;
    const http_deps *d = &s->deps;
    batcher_expect(d->batcher, req->item_count);
    for (int i = 0; i < req->item_count; i++) {
        image_item *item = &req->items[i];
        item->tensor = malloc(sizeof(float) * d->tensor_len);
        item->logits = malloc(sizeof(float) * (size_t)d->num_classes);
        if (!item->tensor || !item->logits) {
            item->status = 500;
            snprintf(item->error, sizeof(item->error), "out of memory");
            continue;
        }
        uint64_t t0 = util_now_ns();
        image_status st = pipeline_prepare(d->preprocess, &s->limits, item->data, item->len, item->tensor,
                                           item->error, sizeof(item->error));
        metrics_observe_preprocess(d->metrics, (double)(util_now_ns() - t0) / 1e9);
        free(item->data); /* the bytes are no longer needed: keep memory per request small */
        item->data = NULL;
        item->status = st == IMAGE_OK ? 0 : pipeline_http_status(st);
    }
    atomic_store(&req->pending, 1); /* guard: no resume before every job is out */
    atomic_fetch_add(&s->suspended, 1);
    MHD_suspend_connection(req->conn);
    req->state = REQ_WAITING;
    for (int i = 0; i < req->item_count; i++) {
        image_item *item = &req->items[i];
        if (item->status != 0) {
            batcher_expect(d->batcher, -1);
            continue;
        }
        item->job.input = item->tensor;
        item->job.logits = item->logits;
        item->job.done = job_done;
        item->job.user = req;
        atomic_fetch_add(&req->pending, 1);
        batcher_submit_status bs = batcher_submit(d->batcher, &item->job);
        batcher_expect(d->batcher, -1);
        if (bs != BATCHER_SUBMITTED) {
            atomic_fetch_sub(&req->pending, 1);
            item->status = 503;
            snprintf(item->error, sizeof(item->error), "%s",
                     bs == BATCHER_FULL ? "server busy: inference queue is full, retry later"
                                        : "server is shutting down");
        }
    }
    release_pending(req); /* drop the guard; resumes at once if every job already finished */
}

static void finish_items(request *req) {
    for (int i = 0; i < req->item_count; i++) {
        image_item *item = &req->items[i];
        if (item->status != 0) continue;
        batch_job *job = &item->job;
        switch (job->status) {
        case BATCH_JOB_OK: item->status = 200; break;
        case BATCH_JOB_TIMEOUT:
        case BATCH_JOB_CANCELLED:
            item->status = 503;
            snprintf(item->error, sizeof(item->error), "%s", job->error);
            break;
        case BATCH_JOB_MODEL_ERROR:
            item->status = 500;
            snprintf(item->error, sizeof(item->error), "inference failed: %s", job->error);
            log_error("request %s: %s", req->request_id, job->error);
            break;
        }
        if (job->started_ns) {
            double queue_ms = (double)(job->started_ns - job->enqueued_ns) / 1e6;
            double model_ms = (double)(job->finished_ns - job->started_ns) / 1e6;
            if (queue_ms > req->queue_ms) req->queue_ms = queue_ms;
            if (model_ms > req->model_ms) req->model_ms = model_ms;
            metrics_observe_queue_wait(req->server->deps.metrics, queue_ms / 1e3);
        }
    }
    for (int i = 0; i < req->item_count; i++) observe_item(req->server, &req->items[i]);
}

static void observe_item(http_server *s, const image_item *item) {
    metrics_count_image(s->deps.metrics, item->status == 200);
}

static void kserve_model_of(const http_deps *d, kserve_model *m) {
    memset(m, 0, sizeof(*m));
    m->name = KSERVE_MODEL_NAME;
    m->version = "1";
    m->platform = "pytorch_libtorch";
    m->labels = d->labels;
    m->num_classes = d->num_classes;
    m->channels = 3;
    m->height = m->width = d->cfg->crop;
    m->weights = d->model_kind;
    m->precision = d->precision;
}

static enum MHD_Result answer_kserve(request *req) {
    const http_deps *d = &req->server->deps;
    for (int i = 0; i < req->item_count; i++) {
        image_item *item = &req->items[i];
        if (item->status != 200) {
            char msg[320];
            snprintf(msg, sizeof(msg), "image %d: %s", i, item->error);
            return send_error(req, item->status, msg);
        }
    }
    const float **logits = malloc(sizeof(float *) * (size_t)req->item_count);
    if (!logits) return send_json(req, 500, NULL, NULL);
    for (int i = 0; i < req->item_count; i++) logits[i] = req->items[i].logits;
    kserve_model m;
    kserve_model_of(d, &m);
    kserve_response resp;
    int rc = kserve_infer_response(&req->kserve, &m, logits, &resp);
    free(logits);
    if (rc != 0) return send_json(req, 500, NULL, NULL);
    char *body = (char *)resp.body; /* JSON only here (binary outputs come with the v2 handler) */
    resp.body = NULL;
    return send_json(req, 200, body, NULL);
}

static enum MHD_Result answer_inference(request *req) {
    const http_deps *d = &req->server->deps;
    finish_items(req);
    if (req->route == ROUTE_V2_INFER) return answer_kserve(req);
    if (req->item_count == 1) {
        image_item *item = &req->items[0];
        if (item->status != 200) return send_error(req, item->status, item->error);
        return send_json(req, 200, response_result_json(d->labels, item->logits, d->num_classes, req->topk), NULL);
    }
    /* Several images: 200 with one entry per image, in order; a bad image
     * gets {"error":..,"status":..} in its place. */
    response_item *items = malloc(sizeof(response_item) * (size_t)req->item_count);
    if (!items) return send_json(req, 500, NULL, NULL);
    for (int i = 0; i < req->item_count; i++)
        items[i] = (response_item){req->items[i].logits, req->items[i].status, req->items[i].error};
    char *body = response_results_json(d->labels, items, req->item_count, d->num_classes, req->topk);
    free(items);
    return send_json(req, 200, body, NULL); /* NULL body: send_json answers 500 */
}

/* ---- routing ---- */

static route_id route_of(const char *url) {
    static const struct {
        const char *path;
        route_id route;
    } table[] = {
        {"/", ROUTE_ROOT},
        {"/health", ROUTE_HEALTH},
        {"/v2/health/live", ROUTE_HEALTH},
        {"/ready", ROUTE_READY},
        {"/v2/health/ready", ROUTE_READY},
        {"/metrics", ROUTE_METRICS},
        {"/info", ROUTE_INFO},
        {"/v2", ROUTE_V2_SERVER},
        {"/v2/models/" KSERVE_MODEL_NAME, ROUTE_V2_MODEL},
        {"/v2/models/" KSERVE_MODEL_NAME "/versions/1", ROUTE_V2_MODEL},
        {"/v2/models/" KSERVE_MODEL_NAME "/ready", ROUTE_V2_MODEL_READY},
        {"/v2/models/" KSERVE_MODEL_NAME "/versions/1/ready", ROUTE_V2_MODEL_READY},
        {"/v2/models/" KSERVE_MODEL_NAME "/infer", ROUTE_V2_INFER},
        {"/v2/models/" KSERVE_MODEL_NAME "/versions/1/infer", ROUTE_V2_INFER},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (!strcmp(url, table[i].path)) return table[i].route;
    return ROUTE_NOT_FOUND;
}

/* A browser asks for text/html; API clients (curl's default Accept: * / *,
 * or application/json) keep the original JSON answer. */
static int wants_html(struct MHD_Connection *conn) {
    const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
    return accept && strstr(accept, "text/html") != NULL;
}

static enum MHD_Result send_page(request *req) {
    const char *dir = req->server->deps.cfg->static_dir;
    if (dir && *dir) {
        char path[4096], err[128];
        char *text;
        size_t len;
        snprintf(path, sizeof(path), "%s/index.html", dir);
        if (util_read_file(path, 4u << 20, &text, &len, err, sizeof(err)) != 0) {
            log_error("static page %s: %s", path, err);
            return send_error(req, 500, "the browser page is not available");
        }
        enum MHD_Result rc = send_body(req, 200, "text/html; charset=utf-8", text, len, NULL);
        free(text);
        return rc;
    }
    return send_body(req, 200, "text/html; charset=utf-8", (const char *)inferd_web_page, inferd_web_page_len, NULL);
}

static enum MHD_Result send_info(request *req) {
    const http_deps *d = &req->server->deps;
    return send_json(req, 200,
                     response_info_json(INFERD_VERSION, d->model_name, d->model_arch, d->model_kind, d->model_seed, d->precision,
                                        d->cfg->crop, (long long)d->cfg->max_body_bytes, (long long)d->cfg->max_pixels,
                                        d->cfg->max_images),
                     NULL);
}

static enum MHD_Result send_metrics(request *req) {
    http_server *s = req->server;
    metrics_gauges g = {
        .in_flight = atomic_load(&s->in_flight),
        .queue_depth = batcher_queue_depth(s->deps.batcher),
        .ready = atomic_load(&s->ready),
        .model_name = s->deps.model_name,
        .weights = s->deps.model_kind,
        .precision = s->deps.precision,
    };
    char *text = metrics_render(s->deps.metrics, &g);
    if (!text) return send_json(req, 500, NULL, NULL);
    enum MHD_Result rc = send_body(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text), NULL);
    free(text);
    return rc;
}

static enum MHD_Result method_not_allowed(request *req, const char *allow) {
    char msg[96];
    snprintf(msg, sizeof(msg), "method %s not allowed here (allowed: %s)", req->method, allow);
    return send_json(req, 405, response_error_json(msg), allow);
}

static int is_get(const char *method) { return !strcmp(method, "GET") || !strcmp(method, "HEAD"); }

static enum MHD_Result check_content_length(request *req) {
    http_server *s = req->server;
    const char *length = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length) {
        char *end;
        unsigned long long n = strtoull(length, &end, 10);
        if (end != length && n > (unsigned long long)s->deps.cfg->max_body_bytes) {
            char msg[128];
            snprintf(msg, sizeof(msg), "request body of %llu bytes is larger than the limit of %lld", n,
                     (long long)s->deps.cfg->max_body_bytes);
            return send_error(req, 413, msg);
        }
    }
    return MHD_YES;
}

/* First call for a request: answers what needs no body, or prepares to read it. */
static enum MHD_Result begin_request(request *req, const char *method) {
    http_server *s = req->server;
    const http_deps *d = &s->deps;
    int get = is_get(method);
    switch (req->route) {
    case ROUTE_HEALTH:
        if (!get) return method_not_allowed(req, "GET, HEAD");
        return send_body(req, 200, "application/json", "{\"status\":\"ok\"}", 15, NULL);
    case ROUTE_READY:
    case ROUTE_V2_MODEL_READY:
        if (!get) return method_not_allowed(req, "GET, HEAD");
        if (atomic_load(&s->draining)) return send_error(req, 503, "shutting down");
        if (!atomic_load(&s->ready)) return send_error(req, 503, "model is loading");
        if (req->route == ROUTE_V2_MODEL_READY) {
            const char body[] = "{\"name\":\"" KSERVE_MODEL_NAME "\",\"ready\":true}";
            return send_body(req, 200, "application/json", body, sizeof(body) - 1, NULL);
        }
        return send_body(req, 200, "application/json", "{\"status\":\"ready\"}", 18, NULL);
    case ROUTE_METRICS:
        if (!get) return method_not_allowed(req, "GET, HEAD");
        return send_metrics(req);
    case ROUTE_INFO:
        if (!get) return method_not_allowed(req, "GET, HEAD");
        return send_info(req);
    case ROUTE_V2_SERVER:
        if (!get) return method_not_allowed(req, "GET, HEAD");
        return send_json(req, 200, kserve_server_metadata(INFERD_VERSION), NULL);
    case ROUTE_V2_MODEL:
        if (!get) return method_not_allowed(req, "GET, HEAD");
    {
        kserve_model m;
        kserve_model_of(d, &m);
        return send_json(req, 200, kserve_model_metadata(&m), NULL);
    }
    case ROUTE_V2_INFER: {
        if (strcmp(method, "POST") != 0) return method_not_allowed(req, "POST");
        if (check_content_length(req) != MHD_YES || req->state == REQ_ANSWERED) return MHD_YES;
        const char *type = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        if (type && strncasecmp(type, "application/json", 16) != 0)
            return send_error(req, 415, "the infer request must be application/json");
        req->json_body = 1;
        return MHD_YES;
    }
    case ROUTE_NOT_FOUND: return send_error(req, 404, "not found");
    case ROUTE_ROOT: break;
    }
    if (get) {
        if (wants_html(req->conn)) return send_page(req);
        return send_json(req, 200, response_message_json("no input image"), NULL);
    }
    if (strcmp(method, "POST") != 0) return method_not_allowed(req, "GET, HEAD, POST");
    if (check_content_length(req) != MHD_YES || req->state == REQ_ANSWERED) return MHD_YES;

    const char *topk = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "topk");
    if (!topk) topk = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Topk");
    if (topk && parse_topk(topk, &req->topk) != 0)
        return send_error(req, 400, "topk must be an integer from 1 to 1000");

    const char *type = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (type && !strncasecmp(type, "multipart/form-data", 19)) {
        req->post = MHD_create_post_processor(req->conn, POST_BUFFER_SIZE, post_iterator, req);
        if (!req->post) return send_error(req, 400, "malformed multipart/form-data (missing or bad boundary)");
        return MHD_YES;
    }
    if (type && (!strncasecmp(type, "image/", 6) || !strncasecmp(type, "application/octet-stream", 24))) {
        req->raw_body = 1;
        return MHD_YES;
    }
    return send_error(req, 415,
                      "send the image as multipart/form-data field 'image', or as a raw body with "
                      "Content-Type image/* or application/octet-stream");
}

static enum MHD_Result receive_body(request *req, const char *data, size_t *size) {
    int64_t limit = req->server->deps.cfg->max_body_bytes;
    req->body_bytes += *size;
    if ((int64_t)req->body_bytes > limit) {
        /* libmicrohttpd cannot send a response while a body is still
         * arriving, so the rest is read and dropped and the 413 goes out at
         * the end; past a hard cap the connection is simply closed. */
        int64_t hard_cap = limit * 4 > limit + (INT64_C(64) << 20) ? limit * 4 : limit + (INT64_C(64) << 20);
        *size = 0;
        if ((int64_t)req->body_bytes > hard_cap) return MHD_NO;
        char msg[96];
        snprintf(msg, sizeof(msg), "request body is larger than the limit of %lld bytes", (long long)limit);
        set_request_error(req, 413, msg);
        return MHD_YES;
    }
    if (!req->error_status) {
        if (req->post) {
            if (MHD_post_process(req->post, data, *size) != MHD_YES)
                set_request_error(req, 400, "malformed multipart/form-data body");
        } else if (req->raw_body) {
            image_item *item = req->item_count ? &req->items[0] : add_item(req);
            if (item) append_bytes(req, item, data, *size);
        } else if (req->json_body) {
            if (req->json_len + *size + 1 > req->json_cap) {
                size_t cap = req->json_cap ? req->json_cap : 64 * 1024;
                while (cap < req->json_len + *size + 1) cap *= 2;
                char *grown = realloc(req->json_text, cap);
                if (!grown) {
                    set_request_error(req, 500, "out of memory");
                    *size = 0;
                    return MHD_YES;
                }
                req->json_text = grown;
                req->json_cap = cap;
            }
            memcpy(req->json_text + req->json_len, data, *size);
            req->json_len += *size;
        }
    }
    *size = 0;
    return MHD_YES;
}

static enum MHD_Result body_complete(request *req) {
    if (req->post) {
        /* Destroying the post processor flushes it; an unterminated body is an error. */
        if (MHD_destroy_post_processor(req->post) != MHD_YES && !req->error_status)
            set_request_error(req, 400, "malformed multipart/form-data body (cut off before the closing boundary)");
        req->post = NULL;
    }
    if (req->error_status) return send_error(req, req->error_status, req->error);
    if (req->topk_len && parse_topk(req->topk_text, &req->topk) != 0)
        return send_error(req, 400, "topk must be an integer from 1 to 1000");
    if (req->json_body) {
        char err[256];
        kserve_limits lim = {req->server->deps.cfg->max_images, 3, req->server->deps.cfg->crop,
                             req->server->deps.cfg->crop};
        int status = kserve_parse_infer((const uint8_t *)(req->json_text ? req->json_text : ""), req->json_len,
                                        KSERVE_JSON_ONLY, &lim, &req->kserve, err, sizeof(err));
        free(req->json_text);
        req->json_text = NULL;
        if (status != 0) return send_error(req, status, err);
        /* The decoded images become ordinary items; kserve keeps only the options. */
        for (int i = 0; i < req->kserve.item_count; i++) {
            if (!req->kserve.items[i].image) return send_error(req, 400, "tensor inputs come with the v2 handler");
            image_item *item = add_item(req);
            if (!item) return send_error(req, req->error_status, req->error);
            item->data = req->kserve.items[i].image;
            item->len = req->kserve.items[i].image_len;
            req->kserve.items[i].image = NULL;
        }
    }
    if (req->item_count == 0) {
        return send_error(req, 400,
                          req->raw_body ? "empty request body: no image"
                                        : "no image: send the file in multipart/form-data field 'image'");
    }
    /* Suspends the connection; it is answered when resumed, even when no
     * image reached the model (then release_pending resumed it at once). */
    start_inference(req);
    return MHD_YES;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                      const char *version, const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
    (void)version;
    http_server *s = cls;
    request *req = *con_cls;
    if (!req) {
        req = calloc(1, sizeof(*req));
        if (!req) return MHD_NO;
        *con_cls = req;
        req->server = s;
        req->conn = conn;
        req->start_ns = util_now_ns();
        snprintf(req->method, sizeof(req->method), "%s", method);
        snprintf(req->path, sizeof(req->path), "%s", url);
        const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
        int rid_ok = rid && *rid && strlen(rid) < sizeof(req->request_id);
        for (const char *p = rid; rid_ok && *p; p++)
            if (*p < 0x21 || *p > 0x7e) rid_ok = 0;
        if (rid_ok)
            snprintf(req->request_id, sizeof(req->request_id), "%s", rid);
        else
            snprintf(req->request_id, sizeof(req->request_id), "%016llx",
                     (unsigned long long)atomic_fetch_add(&s->next_request_id, 1));
        atomic_fetch_add(&s->in_flight, 1);
        set_read_deadline(conn, util_now_ns() + read_timeout_ns(s)); /* the body's turn */
        req->route = route_of(url);
        return begin_request(req, method);
    }
    switch (req->state) {
    case REQ_RECEIVING:
        if (*upload_data_size) return receive_body(req, upload_data, upload_data_size);
        set_read_deadline(conn, UINT64_MAX);
        return body_complete(req);
    case REQ_WAITING:
        atomic_fetch_sub(&s->suspended, 1); /* resumed: libmicrohttpd no longer holds it suspended */
        return answer_inference(req);
    case REQ_ANSWERED:
        *upload_data_size = 0; /* a body after an early answer is discarded */
        return MHD_YES;
    }
    return MHD_NO;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
    (void)toe;
    http_server *s = cls;
    request *req = *con_cls;
    if (!req) return;
    *con_cls = NULL;
    set_read_deadline(conn, util_now_ns() + read_timeout_ns(s)); /* the next request's turn */
    if (s->deps.cfg->access_log) {
        log_access_entry e = {
            .request_id = req->request_id,
            .method = req->method,
            .path = req->path,
            .status = req->status_sent,
            .bytes_in = req->body_bytes,
            .bytes_out = req->bytes_out,
            .total_ms = (double)(util_now_ns() - req->start_ns) / 1e6,
            .queue_ms = req->queue_ms,
            .model_ms = req->model_ms,
            .images = req->item_count,
        };
        log_access(&e);
    }
    metrics_observe_request(s->deps.metrics, route_labels[req->route], req->status_sent,
                            (double)(util_now_ns() - req->start_ns) / 1e9);
    if (req->post) MHD_destroy_post_processor(req->post);
    free(req->json_text);
    kserve_request_free(&req->kserve);
    for (int i = 0; i < req->item_count; i++) {
        free(req->items[i].data);
        free(req->items[i].tensor);
        free(req->items[i].logits);
    }
    free(req->items);
    free(req);
    atomic_fetch_sub(&s->in_flight, 1);
}

/* libmicrohttpd reports every malformed request it rejects; a client must not
 * be able to flood the log with them, so at most one line a second gets
 * through, with a count of what was dropped. */
static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    static atomic_ullong last_second, suppressed;
    unsigned long long now = util_now_ns() / 1000000000u;
    unsigned long long last = atomic_load(&last_second);
    if (now == last || !atomic_compare_exchange_strong(&last_second, &last, now)) {
        atomic_fetch_add(&suppressed, 1);
        return;
    }
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    unsigned long long dropped = atomic_exchange(&suppressed, 0);
    if (dropped)
        log_warn("libmicrohttpd: %s (%llu similar messages suppressed)", line, dropped);
    else
        log_warn("libmicrohttpd: %s", line);
}

static void connection_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                              enum MHD_ConnectionNotificationCode code) {
    http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        tracked_conn *t = calloc(1, sizeof(*t));
        if (!t) return;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        t->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
        atomic_store(&t->deadline_ns, util_now_ns() + read_timeout_ns(s));
        pthread_mutex_lock(&s->conns_lock);
        t->next = s->conns;
        if (s->conns) s->conns->prev = t;
        s->conns = t;
        pthread_mutex_unlock(&s->conns_lock);
        *socket_context = t;
        return;
    }
    tracked_conn *t = *socket_context;
    if (!t) return;
    /* Unlinked under the lock before libmicrohttpd closes the socket, so
     * the watchdog never touches a descriptor that may have been reused. */
    pthread_mutex_lock(&s->conns_lock);
    if (t->prev) t->prev->next = t->next;
    else s->conns = t->next;
    if (t->next) t->next->prev = t->prev;
    pthread_mutex_unlock(&s->conns_lock);
    free(t);
    *socket_context = NULL;
}

static void *watchdog_main(void *arg) {
    http_server *s = arg;
    while (!atomic_load(&s->stopping)) {
        struct timespec tick = {0, 250 * 1000 * 1000};
        nanosleep(&tick, NULL);
        uint64_t now = util_now_ns();
        pthread_mutex_lock(&s->conns_lock);
        for (tracked_conn *t = s->conns; t; t = t->next) {
            if (now > atomic_load(&t->deadline_ns) && t->fd != MHD_INVALID_SOCKET) {
                shutdown(t->fd, SHUT_RDWR);
                atomic_store(&t->deadline_ns, UINT64_MAX);
            }
        }
        pthread_mutex_unlock(&s->conns_lock);
    }
    return NULL;
}

int http_server_start(const http_deps *deps, http_server **out, char *err, size_t errlen) {
    *out = NULL;
    const inferd_config *cfg = deps->cfg;
    http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->deps = *deps;
    s->limits.max_pixels = (uint64_t)cfg->max_pixels;
    pthread_mutex_init(&s->conns_lock, NULL);
    atomic_store(&s->next_request_id, 1);

    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    /* poll, not epoll: with epoll libmicrohttpd 0.9.75 can miss a client's
     * close that arrives together with data, keeping aborted uploads alive
     * until the idle timeout. */
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME |
                         MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (strchr(cfg->addr, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)cfg->port);
        if (inet_pton(AF_INET6, cfg->addr, &a6->sin6_addr) != 1) goto bad_addr;
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)cfg->port);
        if (inet_pton(AF_INET, cfg->addr, &a4->sin_addr) != 1) goto bad_addr;
    }
    int threads = cfg->http_threads > 0 ? cfg->http_threads : config_online_cpus();
    s->daemon = MHD_start_daemon(flags, (uint16_t)cfg->port, NULL, NULL, access_handler, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)threads,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->max_connections,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->connection_timeout_s,
                                 MHD_OPTION_NOTIFY_COMPLETED, request_completed, s,
                                 MHD_OPTION_NOTIFY_CONNECTION, connection_notify, s,
                                 MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        snprintf(err, errlen, "cannot listen on %s:%d (address in use or not available?)", cfg->addr, cfg->port);
        free(s);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    s->watchdog_started = pthread_create(&s->watchdog, NULL, watchdog_main, s) == 0;
    *out = s;
    return 0;
bad_addr:
    snprintf(err, errlen, "addr \"%s\" is not an IPv4 or IPv6 address", cfg->addr);
    free(s);
    return -1;
}

int http_server_port(const http_server *s) { return s->port; }

void http_server_set_ready(http_server *s, int ready) { atomic_store(&s->ready, ready); }

void http_server_quiesce(http_server *s) {
    atomic_store(&s->draining, 1);
    atomic_store(&s->ready, 0);
    /* Closing the listening socket makes new clients fail fast (refused)
     * instead of waiting in a backlog nobody accepts from. */
    MHD_socket listener = MHD_quiesce_daemon(s->daemon);
    if (listener != MHD_INVALID_SOCKET) close(listener);
}

int http_server_in_flight(const http_server *s) { return atomic_load(&((http_server *)s)->in_flight); }

void http_server_stop(http_server *s) {
    if (!s) return;
    /* libmicrohttpd aborts the process if stopped with a suspended
     * connection. The caller stops the batcher first, which finishes every
     * job and so asks for every resume; give the daemon time to act on them. */
    for (int i = 0; i < 500 && atomic_load(&s->suspended) > 0; i++) {
        struct timespec tick = {0, 10 * 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    if (atomic_load(&s->suspended) > 0) {
        log_error("%d connection(s) still suspended at shutdown; leaving them to the OS", atomic_load(&s->suspended));
        return; /* exiting without MHD_stop_daemon is better than an abort */
    }
    atomic_store(&s->stopping, 1);
    if (s->watchdog_started) pthread_join(s->watchdog, NULL);
    if (s->daemon) MHD_stop_daemon(s->daemon);
    pthread_mutex_destroy(&s->conns_lock);
    free(s);
}
