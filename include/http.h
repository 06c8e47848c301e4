/* http: the libmicrohttpd front end. Owns routing, request bodies (multipart
 * or raw), size limits, and the hand-off to the batcher: a handler thread
 * decodes and preprocesses, submits the tensors, suspends the connection and
 * is free for other clients; the model worker's completion resumes it. It
 * does not own the model, labels or preprocessing settings: main wires them. */
#ifndef INFERD_HTTP_H
#define INFERD_HTTP_H

#include <stddef.h>

#include "batcher.h"
#include "config.h"
#include "labels.h"
#include "metrics.h"
#include "preprocess.h"

typedef struct {
    const inferd_config *cfg;
    const labels *labels;
    const preprocess *preprocess;
    batcher *batcher;
    size_t tensor_len;
    int num_classes;
    metrics *metrics;
    const char *model_arch;   /* e.g. "densenet121" */
    const char *model_kind;   /* "pretrained", "seeded", "unknown" */
    long long model_seed;     /* -1 when not seeded */
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
