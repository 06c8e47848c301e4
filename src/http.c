#define _GNU_SOURCE /* strcasecmp, strncasecmp */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "handler.h"
#include "log.h"
#include "pipeline.h"
#include "response.h"
#include "util.h"
#include "work_pool.h"

#define POST_BUFFER_SIZE (64 * 1024)

struct http_server {
    http_deps deps;
    struct MHD_Daemon *daemon;
    image_limits limits;
    int port;
    atomic_int ready;
    atomic_int draining;
    atomic_int in_flight;
    atomic_int suspended; /* connections waiting for the model */
    /* Admitted requests whose images are not in the batcher's queue yet
     * (body arriving, decoding): with the queue depth, what admission
     * weighs against queue_capacity. */
    atomic_int preparing;
    atomic_ullong next_request_id;
    /* Decodes and preprocesses received uploads (at decode_nice), so the
     * libmicrohttpd threads only move bytes and answer (a 503 at
     * admission above all) without waiting behind a decode. */
    work_pool *decoders;
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

/* libmicrohttpd's threads run at http_nice (19 by default): under overload
 * the clients refused at admission come straight back, and at the
 * process's priority their 503s took the CPU from the model workers
 * (goodput at 64 connections 0.36 of capacity; 0.82 at nice 10, 0.93 at
 * 19). They never decode, so even at 19 a 503 does not wait behind a
 * decode in its own thread (p99 3.9 ms, from 11.5 ms when these threads
 * decoded). libmicrohttpd starts its own threads: each lowers itself the
 * first time it runs our callback. */
static void lower_http_thread_priority(const http_server *s) {
    static _Thread_local int done;
    if (done) return;
    done = 1;
    util_lower_this_thread_priority(s->deps.cfg->http_nice);
}

static void set_read_deadline(struct MHD_Connection *conn, uint64_t deadline_ns) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    tracked_conn *t = ci ? ci->socket_context : NULL;
    if (t) atomic_store(&t->deadline_ns, deadline_ns);
}

/* Which handler answers a path: exact paths first, then prefixes (a
 * prefix matches itself and anything under it after a '/'). */
static const struct {
    const char *path;
    int prefix;
    const handler *handler;
} routes[] = {
    {"/", 0, &handler_seed},
    {"/health", 0, &handler_ops},
    {"/ready", 0, &handler_ops},
    {"/metrics", 0, &handler_ops},
    {"/info", 0, &handler_ops},
    {"/v2/health/live", 0, &handler_ops},
    {"/v2/health/ready", 0, &handler_ops},
    {"/v2/repository", 1, &handler_model_control},
    {"/v2", 1, &handler_v2},
};

static const handler *handler_of(const http_deps *d, const char *path) {
    /* Model control is served by one listener only: the admin one when it
     * has its own, else the public one; the admin one serves nothing else. */
    int control = model_control_owns(path);
    if ((d->routes == HTTP_ROUTES_PUBLIC && control) || (d->routes == HTTP_ROUTES_ADMIN && !control)) return NULL;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        size_t n = strlen(routes[i].path);
        if (routes[i].prefix ? !strncmp(path, routes[i].path, n) && (path[n] == '\0' || path[n] == '/')
                             : !strcmp(path, routes[i].path))
            return routes[i].handler;
    }
    return NULL;
}

typedef enum { REQ_RECEIVING, REQ_WAITING, REQ_ANSWERED } request_state;

/* The transport's view of a request: the handlers' part first. */
typedef struct {
    http_request pub;
    const handler *handler;
    struct MHD_Connection *conn;
    request_state state;
    http_body_kind body_kind;
    struct MHD_PostProcessor *post;
    http_item *current; /* the multipart part being streamed */
    uint64_t body_bytes;
    int error_status; /* first request-level error, answered once the body is read */
    char error[256];
    int queue_failed; /* MHD_queue_response failed: close the connection */
    const char *allow; /* the Allow header of a 405 */
    const char *extra_name, *extra_value; /* one more header (static strings), e.g. WWW-Authenticate */
    atomic_int pending; /* jobs out at the batcher, plus one guard while decoding and submitting */
    work_item prepare; /* its decoding, on the server's decoders */
    int holds_admission; /* counted in server->preparing */
    uint64_t client_deadline_ns; /* from X-Request-Timeout-Ms (or the handler); 0 = none */
    MHD_socket fd;
    atomic_int client_gone; /* seen closed while its jobs were queued */
    uint64_t start_ns;
    int status_sent;
    int observed; /* counted in the request metrics */
    uint64_t bytes_out;
    double queue_ms, model_ms;
} request;

static request *request_of(http_request *pub) { return (request *)pub; }

/* ---- for handlers: reading the request ---- */

const char *http_request_header(const http_request *pub, const char *name) {
    return MHD_lookup_connection_value(((const request *)pub)->conn, MHD_HEADER_KIND, name);
}

const char *http_request_query(const http_request *pub, const char *name) {
    return MHD_lookup_connection_value(((const request *)pub)->conn, MHD_GET_ARGUMENT_KIND, name);
}

int http_request_is_get(const http_request *pub) { return !strcmp(pub->method, "GET") || !strcmp(pub->method, "HEAD"); }

int http_server_is_ready(const http_server *s) { return atomic_load(&((http_server *)s)->ready); }

int http_server_is_draining(const http_server *s) { return atomic_load(&((http_server *)s)->draining); }

/* ---- responses ---- */

/* Recorded when the answer is queued, not when libmicrohttpd reports the
 * request complete: a client that reads its answer and then asks /metrics
 * must find it counted. */
static void observe_request(request *req) {
    if (req->observed) return;
    req->observed = 1;
    metrics_observe_request(req->pub.deps->metrics, req->pub.route_label, req->status_sent,
                            (double)(util_now_ns() - req->start_ns) / 1e9);
}

void http_respond(http_request *pub, int status, const char *content_type, const char *body, size_t len) {
    http_respond_with_header(pub, status, content_type, body, len, NULL, NULL);
}

void http_respond_with_header(http_request *pub, int status, const char *content_type, const char *body, size_t len,
                              const char *header, const char *value) {
    request *req = request_of(pub);
    req->state = REQ_ANSWERED;
    req->status_sent = status;
    req->bytes_out = len;
    observe_request(req);
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) {
        req->queue_failed = 1;
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "X-Request-Id", pub->request_id);
    if (header && value) MHD_add_response_header(resp, header, value);
    if (req->allow) MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, req->allow);
    if (req->extra_name) MHD_add_response_header(resp, req->extra_name, req->extra_value);
    if (status == MHD_HTTP_SERVICE_UNAVAILABLE) MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    /* While draining, kept-alive clients are told to reconnect elsewhere. */
    if (atomic_load(&pub->server->draining)) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (MHD_queue_response(req->conn, (unsigned int)status, resp) != MHD_YES) req->queue_failed = 1;
    MHD_destroy_response(resp);
}

void http_respond_json(http_request *pub, int status, char *json) {
    if (!json) {
        static const char fallback[] = "{\"error\":\"out of memory\"}";
        http_respond(pub, 500, "application/json", fallback, sizeof(fallback) - 1);
        return;
    }
    http_respond(pub, status, "application/json", json, strlen(json));
    free(json);
}

void http_respond_error(http_request *pub, int status, const char *message) {
    http_respond_json(pub, status, response_error_json(message));
}

void http_respond_method_not_allowed(http_request *pub, const char *allow) {
    char msg[96];
    snprintf(msg, sizeof(msg), "method %s not allowed here (allowed: %s)", pub->method, allow);
    request_of(pub)->allow = allow;
    http_respond_json(pub, 405, response_error_json(msg));
}

void http_request_set_header(http_request *pub, const char *name, const char *value) {
    request *req = request_of(pub);
    req->extra_name = name;
    req->extra_value = value;
}

int http_request_answered(const http_request *pub) { return ((const request *)pub)->state == REQ_ANSWERED; }

/* ---- request bodies ---- */

void http_request_fail(http_request *pub, int status, const char *message) {
    request *req = request_of(pub);
    if (req->error_status) return; /* the first error is the one the client needs */
    req->error_status = status;
    snprintf(req->error, sizeof(req->error), "%s", message);
}

int http_request_refuse_large_body(http_request *pub) {
    const char *length = http_request_header(pub, MHD_HTTP_HEADER_CONTENT_LENGTH);
    long long limit = (long long)pub->deps->cfg->max_body_bytes;
    if (!length) return 0;
    char *end;
    unsigned long long n = strtoull(length, &end, 10);
    if (end == length || n <= (unsigned long long)limit) return 0;
    char msg[128];
    snprintf(msg, sizeof(msg), "request body of %llu bytes is larger than the limit of %lld", n, limit);
    http_respond_error(pub, 413, msg);
    return 1;
}

static http_item *add_item(http_request *pub) {
    int max_images = pub->deps->cfg->max_images;
    if (pub->item_count >= max_images) {
        char msg[96];
        snprintf(msg, sizeof(msg), "too many images in one request (limit %d)", max_images);
        http_request_fail(pub, 413, msg);
        return NULL;
    }
    if (pub->item_count == pub->item_cap) {
        int cap = pub->item_cap ? pub->item_cap * 2 : 1;
        http_item *grown = realloc(pub->items, sizeof(http_item) * (size_t)cap);
        if (!grown) {
            http_request_fail(pub, 500, "out of memory");
            return NULL;
        }
        pub->items = grown;
        pub->item_cap = cap;
    }
    http_item *item = &pub->items[pub->item_count++];
    memset(item, 0, sizeof(*item));
    return item;
}

int http_request_add_image(http_request *pub, uint8_t *data, size_t len) {
    http_item *item = add_item(pub);
    if (!item) return -1;
    item->data = data;
    item->len = item->cap = len;
    return 0;
}

int http_request_add_tensor(http_request *pub, float *tensor) {
    http_item *item = add_item(pub);
    if (!item) return -1;
    item->tensor = tensor;
    item->prepared = 1;
    return 0;
}

static int append_bytes(http_request *pub, uint8_t **buf, size_t *len, size_t *cap, const char *data, size_t size,
                        size_t spare) {
    if (size == 0) return 0;
    if (*len + size + spare > *cap) {
        size_t grown_cap = *cap ? *cap : 64 * 1024;
        while (grown_cap < *len + size + spare) grown_cap *= 2;
        uint8_t *grown = realloc(*buf, grown_cap);
        if (!grown) {
            http_request_fail(pub, 500, "out of memory");
            return -1;
        }
        *buf = grown;
        *cap = grown_cap;
    }
    memcpy(*buf + *len, data, size);
    *len += size;
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
            req->current = add_item(&req->pub);
            if (!req->current) return MHD_YES;
        }
        if (req->current)
            append_bytes(&req->pub, &req->current->data, &req->current->len, &req->current->cap, data, size, 0);
        return MHD_YES;
    }
    if (req->current) req->current->closed = 1;
    if (req->handler->on_form_field) req->handler->on_form_field(&req->pub, key, data, size);
    return MHD_YES;
}

/* ---- admission, deadlines, cancellation ---- */

static void release_admission(request *req) {
    if (!req->holds_admission) return;
    req->holds_admission = 0;
    atomic_fetch_sub(&req->pub.server->preparing, 1);
}

static void refuse(request *req, metrics_shed_kind why, const char *message) {
    metrics_count_shed(req->pub.deps->metrics, why);
    http_respond_error(&req->pub, 503, message);
}

/* Decides, from the headers alone, whether a request that brings images can
 * be served: its body is neither read nor decoded when it cannot. Counts the
 * request in `preparing` until its images are in the queue. Returns 0 when
 * admitted, else answers 503 (Retry-After) and returns -1. */
static int admit(request *req) {
    http_server *s = req->pub.server;
    const http_deps *d = &s->deps;
    int capacity = batcher_queue_capacity(d->batcher);
    int preparing = atomic_fetch_add(&s->preparing, 1) + 1;
    req->holds_admission = 1;
    int depth = batcher_queue_depth(d->batcher);
    if (depth + preparing > capacity) {
        release_admission(req);
        refuse(req, METRICS_ADMISSION_QUEUE_FULL, "server busy: inference queue is full, retry later");
        return -1;
    }
    /* Would it wait past its deadline? Then refuse now rather than later. */
    uint64_t budget_ns = batcher_queue_deadline_ns(d->batcher);
    if (req->client_deadline_ns) {
        uint64_t now = util_now_ns();
        uint64_t left = req->client_deadline_ns > now ? req->client_deadline_ns - now : 0;
        if (left < budget_ns) budget_ns = left;
    }
    if (batcher_expected_wait_ns(d->batcher, depth + preparing - 1) > budget_ns) {
        release_admission(req);
        refuse(req, METRICS_ADMISSION_DEADLINE, "server busy: the wait for the model exceeds the deadline, retry later");
        return -1;
    }
    return 0;
}

/* X-Request-Timeout-Ms: how long the client will wait for its answer, from
 * the request's first byte. Returns 0, or -1 after answering 400. */
static int read_client_deadline(request *req) {
    const char *text = http_request_header(&req->pub, "X-Request-Timeout-Ms");
    if (!text) return 0;
    unsigned long long ms = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9' && ms <= 3600000; p++) ms = ms * 10 + (unsigned long long)(*p - '0');
    if (p == text || *p || ms < 1 || ms > 3600000) {
        http_respond_error(&req->pub, 400, "X-Request-Timeout-Ms must be an integer from 1 to 3600000");
        return -1;
    }
    req->client_deadline_ns = req->start_ns + ms * 1000000u;
    return 0;
}

void http_request_set_timeout_ms(http_request *pub, uint64_t ms) {
    request *req = request_of(pub);
    uint64_t deadline = req->start_ns + ms * 1000000u;
    if (!req->client_deadline_ns || deadline < req->client_deadline_ns) req->client_deadline_ns = deadline;
}

/* libmicrohttpd does not watch a suspended connection, so a client that
 * gave up is only noticed when its answer is written. Peeking at the socket
 * tells sooner: end of stream (or an error) means the client closed (a
 * half-close counts, as in nginx's 499). Safe while the request's jobs are
 * queued: the connection stays suspended, so its socket stays open. */
static int client_closed(request *req) {
    if (atomic_load(&req->client_gone)) return 1;
    if (req->fd == MHD_INVALID_SOCKET) return 0;
    char byte;
    ssize_t n = recv(req->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        atomic_store(&req->client_gone, 1);
        return 1;
    }
    return 0;
}

static int job_abandoned(batch_job *job) { return client_closed(job->user); }

/* ---- model hand-off ---- */

static void job_done(batch_job *job) {
    request *req = job->user;
    if (atomic_fetch_sub(&req->pending, 1) == 1) MHD_resume_connection(req->conn);
}

static void release_pending(request *req) {
    if (atomic_fetch_sub(&req->pending, 1) == 1) MHD_resume_connection(req->conn);
}

/* On a decoder thread, with the connection suspended: decodes every image
 * of a fully received request, then submits the good ones together with any
 * ready tensors (so that they can share a batch). The connection is
 * resumed, and answered, once the last job is done; when no item reaches
 * the model it is resumed at once. */
static void prepare_and_submit(work_item *work) {
    request *req = (request *)((char *)work - offsetof(request, prepare));
    http_server *s = req->pub.server;
    const http_deps *d = &s->deps;
    http_request *pub = &req->pub;
    image_limits limits = s->limits;
    if (pub->exif_orientation >= 0) limits.exif_orientation = pub->exif_orientation;
    const served_model *sm = pub->model;
    batcher_expect(d->batcher, pub->item_count);
    for (int i = 0; i < pub->item_count; i++) {
        http_item *item = &pub->items[i];
        item->logits = malloc(sizeof(float) * (size_t)sm->num_classes);
        if (!item->prepared) item->tensor = malloc(sizeof(float) * sm->tensor_len);
        if (!item->tensor || !item->logits) {
            item->status = 500;
            snprintf(item->error, sizeof(item->error), "out of memory");
            continue;
        }
        if (item->prepared) continue;
        uint64_t t0 = util_now_ns();
        image_status st = pipeline_prepare(sm->preprocess, &limits, item->data, item->len, item->tensor,
                                           item->error, sizeof(item->error));
        metrics_observe_preprocess(d->metrics, (double)(util_now_ns() - t0) / 1e9);
        free(item->data); /* the bytes are no longer needed: keep memory per request small */
        item->data = NULL;
        item->prepared = 1;
        item->status = st == IMAGE_OK ? 0 : pipeline_http_status(st);
    }
    /* Decoding took time: the client may have left, or its deadline passed. */
    int gone = client_closed(req);
    int late = req->client_deadline_ns && util_now_ns() > req->client_deadline_ns;
    for (int i = 0; i < pub->item_count; i++) {
        http_item *item = &pub->items[i];
        if (item->status == 0 && (gone || late)) {
            item->job.status = gone ? BATCH_JOB_ABANDONED : BATCH_JOB_TIMEOUT;
            snprintf(item->job.error, sizeof(item->job.error), "%s",
                     gone ? "client closed the connection" : "the request's deadline passed before its forward");
            item->status = -1; /* answered from job.status by finish_items */
        }
        if (item->status != 0) {
            batcher_expect(d->batcher, -1);
            continue;
        }
        item->job.input = item->tensor;
        item->job.logits = item->logits;
        item->job.model = sm->model; /* its batch runs on the request's model, even after a reload */
        item->job.tensor_len = sm->tensor_len;
        item->job.num_classes = sm->num_classes;
        item->job.done = job_done;
        item->job.user = req;
        item->job.deadline_ns = req->client_deadline_ns;
        item->job.abandoned = job_abandoned;
        atomic_fetch_add(&req->pending, 1);
        batcher_submit_status bs = batcher_submit_expected(d->batcher, &item->job);
        if (bs != BATCHER_SUBMITTED) {
            atomic_fetch_sub(&req->pending, 1);
            item->status = 503;
            snprintf(item->error, sizeof(item->error), "%s",
                     bs == BATCHER_FULL ? "server busy: inference queue is full, retry later"
                                        : "server is shutting down");
        }
    }
    release_admission(req); /* its images now count in the queue depth */
    release_pending(req); /* drop the guard; resumes at once if every job already finished */
}

/* Turns each job's outcome into its item's HTTP status, and records it.
 * Returns 1 when the client is gone (nothing to answer). */
static int finish_items(request *req) {
    http_request *pub = &req->pub;
    metrics *m = pub->deps->metrics;
    int abandoned = 0;
    for (int i = 0; i < pub->item_count; i++) {
        http_item *item = &pub->items[i];
        if (item->status != 0 && item->status != -1) continue;
        batch_job *job = &item->job;
        switch (job->status) {
        case BATCH_JOB_OK: item->status = 200; break;
        case BATCH_JOB_TIMEOUT: {
            /* The client's own deadline: 504; the server's queue deadline: 503, retry. */
            int client = req->client_deadline_ns && job->finished_ns >= req->client_deadline_ns;
            if (item->status == -1) client = 1; /* only the client's deadline is checked before submitting */
            metrics_count_shed(m, client ? METRICS_EXPIRED_CLIENT : METRICS_EXPIRED_SERVER);
            item->status = client ? 504 : 503;
            snprintf(item->error, sizeof(item->error), "%s", job->error);
            break;
        }
        case BATCH_JOB_ABANDONED:
            metrics_count_shed(m, METRICS_CANCELLED_QUEUED);
            item->status = 499;
            snprintf(item->error, sizeof(item->error), "%s", job->error);
            abandoned = 1;
            break;
        case BATCH_JOB_CANCELLED:
            item->status = 503;
            snprintf(item->error, sizeof(item->error), "%s", job->error);
            break;
        case BATCH_JOB_MODEL_ERROR:
            item->status = 500;
            snprintf(item->error, sizeof(item->error), "inference failed: %s", job->error);
            log_error("request %s: %s", pub->request_id, job->error);
            break;
        }
        if (job->started_ns) {
            double queue_ms = (double)(job->started_ns - job->enqueued_ns) / 1e6;
            double model_ms = (double)(job->finished_ns - job->started_ns) / 1e6;
            if (queue_ms > req->queue_ms) req->queue_ms = queue_ms;
            if (model_ms > req->model_ms) req->model_ms = model_ms;
            metrics_observe_queue_wait(m, queue_ms / 1e3);
        }
    }
    for (int i = 0; i < pub->item_count; i++) metrics_count_image(m, pub->items[i].status == 200);
    return abandoned;
}

/* ---- the libmicrohttpd callbacks ---- */

static enum MHD_Result receive_body(request *req, const char *data, size_t *size) {
    http_request *pub = &req->pub;
    int64_t limit = pub->deps->cfg->max_body_bytes;
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
        http_request_fail(pub, 413, msg);
        return MHD_YES;
    }
    if (!req->error_status) {
        switch (req->body_kind) {
        case HTTP_BODY_MULTIPART:
            if (MHD_post_process(req->post, data, *size) != MHD_YES)
                http_request_fail(pub, 400, "malformed multipart/form-data body");
            break;
        case HTTP_BODY_IMAGE: {
            http_item *item = pub->item_count ? &pub->items[0] : add_item(pub);
            if (item) append_bytes(pub, &item->data, &item->len, &item->cap, data, *size, 0);
            break;
        }
        case HTTP_BODY_BYTES:
            append_bytes(pub, (uint8_t **)&pub->body, &pub->body_len, &pub->body_cap, data, *size, 1);
            if (pub->body) pub->body[pub->body_len] = '\0';
            break;
        case HTTP_BODY_NONE: break;
        }
    }
    *size = 0;
    return MHD_YES;
}

static void body_complete(request *req) {
    http_request *pub = &req->pub;
    if (req->post) {
        /* Destroying the post processor flushes it; an unterminated body is an error. */
        if (MHD_destroy_post_processor(req->post) != MHD_YES)
            http_request_fail(pub, 400, "malformed multipart/form-data body (cut off before the closing boundary)");
        req->post = NULL;
    }
    if (req->error_status) {
        http_respond_error(pub, req->error_status, req->error);
        return;
    }
    if (req->handler->on_body) req->handler->on_body(pub);
    if (req->state == REQ_ANSWERED) return;
    if (req->error_status) {
        http_respond_error(pub, req->error_status, req->error);
        return;
    }
    if (pub->item_count == 0) {
        log_error("request %s: the handler for %s neither answered nor gave images", pub->request_id, pub->path);
        http_respond_error(pub, 500, "internal error: no answer");
        return;
    }
    /* Suspended until the decoders and the model are done with it; it is
     * answered when resumed, even when no item reached the model (then
     * release_pending resumed it at once). */
    atomic_store(&req->pending, 1); /* guard: no resume before every job is out */
    atomic_fetch_add(&req->pub.server->suspended, 1);
    MHD_suspend_connection(req->conn);
    req->state = REQ_WAITING;
    req->prepare.run = prepare_and_submit;
    if (work_pool_submit(req->pub.server->decoders, &req->prepare) != 0) prepare_and_submit(&req->prepare);
}

static request *request_create(http_server *s, struct MHD_Connection *conn, const char *url, const char *method) {
    request *req = calloc(1, sizeof(*req));
    if (!req) return NULL;
    http_request *pub = &req->pub;
    pub->server = s;
    pub->deps = &s->deps;
    pub->route_label = "other";
    pub->exif_orientation = -1;
    pub->model = model_slot_acquire(s->deps.models);
    req->conn = conn;
    req->start_ns = util_now_ns();
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    req->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
    snprintf(pub->method, sizeof(pub->method), "%s", method);
    snprintf(pub->path, sizeof(pub->path), "%s", url);
    const char *rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    int rid_ok = rid && *rid && strlen(rid) < sizeof(pub->request_id);
    for (const char *p = rid; rid_ok && *p; p++)
        if (*p < 0x21 || *p > 0x7e) rid_ok = 0;
    if (rid_ok)
        snprintf(pub->request_id, sizeof(pub->request_id), "%s", rid);
    else
        snprintf(pub->request_id, sizeof(pub->request_id), "%016llx",
                 (unsigned long long)atomic_fetch_add(&s->next_request_id, 1));
    return req;
}

/* First call for a request: the handler answers from the headers or names
 * the body to collect. */
static void begin_request(request *req) {
    http_request *pub = &req->pub;
    req->handler = handler_of(pub->deps, pub->path);
    if (!req->handler) {
        http_respond_error(pub, 404, "not found");
        return;
    }
    req->body_kind = req->handler->on_request(pub);
    if (req->state == REQ_ANSWERED) return;
    if (req->body_kind == HTTP_BODY_NONE) {
        log_error("request %s: the handler for %s neither answered nor asked for a body", pub->request_id, pub->path);
        http_respond_error(pub, 500, "internal error: no answer");
        return;
    }
    /* A body means images for the model: admit before reading it. */
    if (read_client_deadline(req) != 0 || admit(req) != 0) return;
    if (req->body_kind == HTTP_BODY_MULTIPART) {
        req->post = MHD_create_post_processor(req->conn, POST_BUFFER_SIZE, post_iterator, req);
        if (!req->post) {
            http_respond_error(pub, 400, "malformed multipart/form-data (missing or bad boundary)");
            return;
        }
    }
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                      const char *version, const char *upload_data, size_t *upload_data_size,
                                      void **con_cls) {
    (void)version;
    http_server *s = cls;
    request *req = *con_cls;
    if (!req) {
        lower_http_thread_priority(s);
        req = request_create(s, conn, url, method);
        if (!req) return MHD_NO;
        *con_cls = req;
        atomic_fetch_add(&s->in_flight, 1);
        set_read_deadline(conn, util_now_ns() + read_timeout_ns(s)); /* the body's turn */
        begin_request(req);
        return req->queue_failed ? MHD_NO : MHD_YES;
    }
    switch (req->state) {
    case REQ_RECEIVING:
        if (*upload_data_size) return receive_body(req, upload_data, upload_data_size);
        set_read_deadline(conn, UINT64_MAX);
        body_complete(req);
        break;
    case REQ_WAITING:
        atomic_fetch_sub(&s->suspended, 1); /* resumed: libmicrohttpd no longer holds it suspended */
        if (finish_items(req)) {
            /* 499 (nginx's "client closed request") for the log and metrics; nobody reads it. */
            http_respond_error(&req->pub, 499, "client closed the connection");
            break;
        }
        req->handler->on_results(&req->pub);
        if (req->state != REQ_ANSWERED) http_respond_error(&req->pub, 500, "internal error: no answer");
        break;
    case REQ_ANSWERED:
        *upload_data_size = 0; /* a body after an early answer is discarded */
        return MHD_YES;
    }
    return req->queue_failed ? MHD_NO : MHD_YES;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode toe) {
    http_server *s = cls;
    request *req = *con_cls;
    if (!req) return;
    http_request *pub = &req->pub;
    *con_cls = NULL;
    release_admission(req);
    if (req->state == REQ_WAITING) {
        /* Resumed, then closed by libmicrohttpd without a call to
         * access_handler: the client left while its images were out. */
        atomic_fetch_sub(&s->suspended, 1);
        if (finish_items(req)) req->status_sent = 499; /* counted as cancelled while queued */
    }
    if (req->status_sent == 0 && toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN) {
        /* Closed before any answer (upload cut, or gone while its images ran). */
        req->status_sent = 499;
        metrics_count_shed(s->deps.metrics, METRICS_CANCELLED_OTHER);
    }
    set_read_deadline(conn, util_now_ns() + read_timeout_ns(s)); /* the next request's turn */
    if (s->deps.cfg->access_log) {
        log_access_entry e = {
            .request_id = pub->request_id,
            .method = pub->method,
            .path = pub->path,
            .status = req->status_sent,
            .bytes_in = req->body_bytes,
            .bytes_out = req->bytes_out,
            .total_ms = (double)(util_now_ns() - req->start_ns) / 1e6,
            .queue_ms = req->queue_ms,
            .model_ms = req->model_ms,
            .images = pub->item_count,
        };
        log_access(&e);
    }
    observe_request(req);
    if (req->post) MHD_destroy_post_processor(req->post);
    if (req->handler && req->handler->on_free) req->handler->on_free(pub);
    free(pub->body);
    for (int i = 0; i < pub->item_count; i++) {
        free(pub->items[i].data);
        free(pub->items[i].tensor);
        free(pub->items[i].logits);
    }
    free(pub->items);
    /* The last request on a replaced model frees it. */
    served_model_release(pub->model);
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
        lower_http_thread_priority(s);
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
    const char *listen_addr = deps->addr ? deps->addr : cfg->addr;
    int listen_port = deps->addr ? deps->port : cfg->port;
    http_server *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->deps = *deps;
    s->limits.max_pixels = (uint64_t)cfg->max_pixels;
    s->limits.exif_orientation = cfg->exif_orientation;
    pthread_mutex_init(&s->conns_lock, NULL);
    atomic_store(&s->next_request_id, 1);

    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    /* poll, not epoll: with epoll libmicrohttpd 0.9.75 can miss a client's
     * close that arrives together with data, keeping aborted uploads alive
     * until the idle timeout. */
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME |
                         MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (strchr(listen_addr, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)listen_port);
        if (inet_pton(AF_INET6, listen_addr, &a6->sin6_addr) != 1) goto bad_addr;
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)listen_port);
        if (inet_pton(AF_INET, listen_addr, &a4->sin_addr) != 1) goto bad_addr;
    }
    int threads = cfg->http_threads > 0 ? cfg->http_threads : config_online_cpus();
    /* The admin listener takes no images: one idle decoder is enough. */
    if (work_pool_create(deps->routes == HTTP_ROUTES_ADMIN ? 1 : threads, cfg->decode_nice, "inferd-decode",
                         &s->decoders, err, errlen) != 0) {
        free(s);
        return -1;
    }
    s->daemon = MHD_start_daemon(flags, (uint16_t)listen_port, NULL, NULL, access_handler, s,
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
        snprintf(err, errlen, "cannot listen on %s:%d (address in use or not available?)", listen_addr, listen_port);
        work_pool_stop(s->decoders);
        work_pool_free(s->decoders);
        free(s);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : listen_port;
    s->watchdog_started = pthread_create(&s->watchdog, NULL, watchdog_main, s) == 0;
    *out = s;
    return 0;
bad_addr:
    snprintf(err, errlen, "addr \"%s\" is not an IPv4 or IPv6 address", listen_addr);
    work_pool_stop(s->decoders);
    work_pool_free(s->decoders);
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
    /* Uploads still being decoded are submitted (to a stopped batcher they
     * are answered 503) and so resumed. */
    work_pool_stop(s->decoders);
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
    work_pool_free(s->decoders);
    pthread_mutex_destroy(&s->conns_lock);
    free(s);
}
