/* handler: the interface between the HTTP transport (http.c: connections,
 * bodies, size limits, suspend/resume, access log) and the modules that
 * answer a path (handler_seed.c "/", handler_v2.c "/v2...", handler_ops.c
 * health/ready/info/metrics). A handler gets a parsed request, says which
 * body the transport should collect, and answers with http_respond_*: at
 * once, or after the transport has run the items it added (encoded images
 * or ready tensors) through the batcher. Handlers never see libmicrohttpd
 * or the batcher. */
#ifndef INFERD_HANDLER_H
#define INFERD_HANDLER_H

#include <stddef.h>
#include <stdint.h>

#include "batcher.h"
#include "http.h"

typedef enum {
    HTTP_BODY_NONE,      /* the handler answered from the headers */
    HTTP_BODY_MULTIPART, /* multipart/form-data: "image"/"images" parts become items, other fields go to on_form_field */
    HTTP_BODY_IMAGE,     /* the whole body is one encoded image item */
    HTTP_BODY_BYTES      /* the whole body is kept in req->body (NUL-terminated) for on_body to parse */
} http_body_kind;

/* One input for the model and, after the batcher, its result. */
typedef struct {
    /* input: encoded image bytes (the transport decodes and preprocesses
     * them), or a ready tensor of model->tensor_len floats */
    uint8_t *data;
    size_t len;
    float *tensor;
    /* result: status 200 with logits (num_classes floats), or an HTTP
     * status and message for this item alone */
    float *logits;
    int status;
    char error[256];
    /* the transport's bookkeeping */
    size_t cap;
    int closed; /* its multipart part has ended */
    int prepared;
    batch_job job;
} http_item;

typedef struct http_request {
    http_server *server;
    const http_deps *deps;
    char method[16];
    char path[256];   /* without the query string */
    char request_id[64];
    const char *route_label; /* fixed metrics label (never client text); the handler sets it */
    /* The model (labels, preprocessing) this request is answered with: the
     * current one when it arrived, held until it is answered. */
    served_model *model;
    void *handler_data;      /* the handler's own per-request state, freed by its on_free */
    http_item *items;
    int item_count, item_cap;
    char *body; /* HTTP_BODY_BYTES: the body, NUL-terminated */
    size_t body_len, body_cap;
    /* This request's EXIF orientation choice for decoding its images: -1
     * keeps the server's exif_orientation, 0/1 overrides it. */
    int exif_orientation;
} http_request;

typedef struct handler {
    /* The headers are in: answer (and return HTTP_BODY_NONE), or return the
     * body to collect. A body means images for the model: the transport
     * then admits the request (503 when the queue is full) before reading
     * it. */
    http_body_kind (*on_request)(http_request *req);
    /* HTTP_BODY_MULTIPART: a piece of a field that is not an image; may be
     * NULL. Errors go through http_request_fail. */
    void (*on_form_field)(http_request *req, const char *key, const char *data, size_t size);
    /* The body is in and no request error was recorded: answer, or add items
     * (HTTP_BODY_MULTIPART and HTTP_BODY_IMAGE bodies have added theirs) and
     * return; the transport then runs them through the model. */
    void (*on_body)(http_request *req);
    /* Every item has its result: answer. */
    void (*on_results)(http_request *req);
    /* Frees handler_data; may be NULL. */
    void (*on_free)(http_request *req);
} handler;

extern const handler handler_seed; /* "/" */
extern const handler handler_v2;   /* "/v2", "/v2/..." */
extern const handler handler_ops;  /* health, ready, metrics, info */
extern const handler handler_model_control; /* "/v2/repository/..." (model_control.h) */

/* ---- for handlers: reading the request ---- */

const char *http_request_header(const http_request *req, const char *name);
const char *http_request_query(const http_request *req, const char *name);
int http_request_is_get(const http_request *req); /* GET or HEAD */

/* Records the request's first error; the transport answers it once the body
 * is in (a response cannot go out while a body is still arriving). */
void http_request_fail(http_request *req, int status, const char *message);

/* A deadline for the answer, ms from the request's first byte (e.g. a
 * protocol's own timeout parameter); the earliest one given counts. An
 * image still queued when it passes is answered 504 without a forward.
 * (The X-Request-Timeout-Ms header is read by the transport.) */
void http_request_set_timeout_ms(http_request *req, uint64_t ms);

/* Answers 413 when the Content-Length is above max_body_bytes; returns 1
 * when it did. */
int http_request_refuse_large_body(http_request *req);

/* Adds an input for the model. On success the request owns data (or
 * tensor, malloc'd); on failure (-1: too many images, out of memory) the
 * caller still does, and the error is recorded with http_request_fail. */
int http_request_add_image(http_request *req, uint8_t *data, size_t len);
int http_request_add_tensor(http_request *req, float *tensor);

/* ---- for handlers: answering ---- */

/* Copies body. */
void http_respond(http_request *req, int status, const char *content_type, const char *body, size_t len);
/* Copies body; adds one more response header (a protocol's own, e.g.
 * Inference-Header-Content-Length) when header is not NULL. */
void http_respond_with_header(http_request *req, int status, const char *content_type, const char *body, size_t len,
                              const char *header, const char *value);
/* Takes json (malloc'd); NULL answers 500 "out of memory". */
void http_respond_json(http_request *req, int status, char *json);
void http_respond_error(http_request *req, int status, const char *message);
void http_respond_method_not_allowed(http_request *req, const char *allow);
int http_request_answered(const http_request *req);
/* One extra response header (name and value must outlive the request:
 * string literals), e.g. WWW-Authenticate on a 401. */
void http_request_set_header(http_request *req, const char *name, const char *value);

/* ---- server state ---- */

int http_server_is_ready(const http_server *s);
int http_server_is_draining(const http_server *s);

#endif
