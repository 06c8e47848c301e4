/* http: the libmicrohttpd transport. Owns connections (the slow-client
 * watchdog), routing a path to its handler (handler.h), request bodies
 * (multipart, raw), size limits, the access log, and the hand-off to the
 * batcher: a received upload's connection is suspended and its decoding
 * and preprocessing go to a pool of decoder threads (work_pool.h), which
 * submit the tensors; the model worker's completion resumes the connection
 * and the handler answers. The libmicrohttpd threads never decode, so an
 * admission 503 does not wait behind one. It does not own what a
 * route answers (the handlers do), nor the model, labels or preprocessing
 * settings: main wires them. */
#ifndef INFERD_HTTP_H
#define INFERD_HTTP_H

#include <stddef.h>

#include "batcher.h"
#include "config.h"
#include "metrics.h"
#include "model_stats.h"
#include "model_control.h"
#include "model_slot.h"

/* Which routes a listener serves: the public API (and model control unless
 * it has its own listener), or model control alone (the admin listener). */
typedef enum { HTTP_ROUTES_ALL = 0, HTTP_ROUTES_PUBLIC, HTTP_ROUTES_ADMIN } http_routes;

typedef struct {
    const inferd_config *cfg;
    /* The model, its labels and preprocessing: each request takes the
     * current one when it starts and is answered entirely with it, so a
     * reload never mixes two models in one answer. */
    model_slot *models;
    const model_control *control;
    http_routes routes;
    const char *addr;         /* where to listen: NULL = cfg->addr / cfg->port */
    int port;
    batcher *batcher;
    metrics *metrics;
    const char *model_name;   /* the v2 API's name (model_name, else the arch, else the file's stem); fixed across reloads */
    model_stats *model_stats; /* the statistics extension's counters */
    const char *precision;    /* "fp32", "bf16" or "int8" */
} http_deps;

typedef struct http_server http_server;

int http_server_start(const http_deps *deps, http_server **out, char *err, size_t errlen);

/* The bound port (useful with port 0). */
int http_server_port(const http_server *s);

/* /ready answers 200 only after this (model loaded and warm). */
void http_server_set_ready(http_server *s, int ready);

/* Stops accepting connections and marks the server not ready; requests
 * already accepted go on. */
void http_server_quiesce(http_server *s);

/* Requests accepted and not yet answered. */
int http_server_in_flight(const http_server *s);

void http_server_stop(http_server *s);

#endif
