/* Fuzzes raw HTTP request bytes against the real request path: an inferd
 * HTTP server (libmicrohttpd, routing, multipart, limits, batcher) runs in
 * this process on a loopback port with a stub model; each input is sent on
 * a fresh connection, half-closed, and the answer read. A crash, leak,
 * sanitizer report or hang is a finding. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "batcher.h"
#include "config.h"
#include "http.h"
#include "labels.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "model_control.h"
#include "model_slot.h"
#include "preprocess.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inferd_config cfg;
static int port;

static labels *synthetic_labels(void) {
    size_t cap = 1000 * 40 + 16, n = 0;
    char *json = malloc(cap);
    n += (size_t)snprintf(json + n, cap - n, "{");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(json + n, cap - n, "%s\"%d\":[\"n%08d\",\"class_%d\"]", i ? "," : "", i, i, i);
    snprintf(json + n, cap - n, "}");
    labels *l = NULL;
    char err[256];
    if (labels_parse(json, strlen(json), &l, err, sizeof(err)) != 0) abort();
    free(json);
    return l;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    signal(SIGPIPE, SIG_IGN);
    char err[512];
    config_defaults(&cfg);
    free(cfg.addr);
    cfg.addr = strdup("127.0.0.1");
    cfg.port = 0;
    cfg.http_threads = 2;
    cfg.access_log = 0;
    cfg.max_body_bytes = 1 << 20;
    cfg.max_pixels = 1 << 22;
    cfg.connection_timeout_s = 2;
    preprocess_config pc;
    preprocess_config_default(&pc);
    preprocess *pp;
    if (preprocess_create(&pc, &pp, err, sizeof(err)) != 0) abort();
    model_options mo;
    model_options_default(&mo);
    static model *models[1];
    if (model_load("stub", &mo, &models[0], err, sizeof(err)) != 0) abort();
    batcher_options bo = {.max_batch = 4, .batch_delay_us = 0, .queue_capacity = 16, .warmup_rounds = 0};
    batcher *b;
    if (batcher_create(models, 1, &bo, preprocess_tensor_len(pp), model_num_classes(models[0]), &b, err,
                       sizeof(err)) != 0)
        abort();
    /* The served model, built by hand from the synthetic labels. */
    served_model *sm = calloc(1, sizeof(*sm));
    if (!sm) abort();
    sm->model = models[0];
    sm->labels = synthetic_labels();
    sm->preprocess = pp;
    sm->preprocess_config = pc;
    sm->num_classes = model_num_classes(models[0]);
    sm->tensor_len = preprocess_tensor_len(pp);
    sm->refs = 1;
    sm->generation = 1;
    if (model_meta_parse(model_metadata(models[0]), &sm->meta, err, sizeof(err)) != 0) abort();
    model_slot_options so = {.cfg = &cfg, .model_opts = mo, .warmup_max_batch = 1, .warmup_rounds = 1};
    model_slot *slot;
    if (model_slot_create(&so, sm, &slot, err, sizeof(err)) != 0) abort();
    /* Model control open behind a token: the fuzzer exercises the routing
     * and the authorisation (a load it guessed its way into only fails). */
    static model_control control;
    control = (model_control){.enabled = 1, .token = "fuzz-admin-token", .slot = slot, .name = "densenet121"};
    http_deps deps = {
        .cfg = &cfg,
        .models = slot,
        .control = &control,
        .batcher = b,
        .metrics = metrics_create(),
        .model_name = "densenet121",
        .model_stats = model_stats_create(),
        .precision = "fp32",
    };
    http_server *s;
    if (http_server_start(&deps, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        abort();
    }
    http_server_set_ready(s, 1);
    port = http_server_port(s);
    /* The server lives for the whole run: its memory is not a leak. */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        close(fd);
        return 0;
    }
    size_t sent = 0;
    while (sent < size) {
        ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    char buf[4096];
    while (recv(fd, buf, sizeof(buf), 0) > 0) {
    }
    close(fd);
    return 0;
}
