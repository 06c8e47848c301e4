/* inferd: wires config, labels, preprocessing, model instances, the batcher
 * and the HTTP server together, then waits for SIGINT/SIGTERM to drain. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batcher.h"
#include "config.h"
#include "http.h"
#include "labels.h"
#include "log.h"
#include "model.h"
#include "metrics.h"
#include "model_meta.h"
#include "preprocess.h"
#include "util.h"

typedef struct {
    inferd_config cfg;
    labels *labels;
    preprocess *preprocess;
    model *model;
    model **workers; /* model_instances entries, all == model */
    int worker_count;
    batcher *batcher;
    http_server *http;
    metrics *metrics;
    model_meta meta;
} app;

static void record_batch(void *ctx, int batch_size, double seconds) {
    metrics_observe_batch(ctx, batch_size, seconds);
}

static void app_free(app *a) {
    /* The batcher stops first: it runs what is queued and so resumes every
     * suspended connection before the HTTP daemon goes away. */
    if (a->batcher) batcher_stop(a->batcher);
    http_server_stop(a->http);
    if (a->batcher) batcher_free(a->batcher);
    free(a->workers);
    model_free(a->model);
    preprocess_free(a->preprocess);
    labels_free(a->labels);
    metrics_free(a->metrics);
    config_free(&a->cfg);
}

/* One module, shared by model_instances worker threads: forwards on it are
 * read-only, and a copy per worker would cost ~77 MB of RSS each (oneDNN
 * keeps packed and plain weights) for no speed gain (bench/model_bench
 * --separate). */
static int load_model(app *a, char *err, size_t errlen) {
    const inferd_config *cfg = &a->cfg;
    int online = config_online_cpus();
    int instances = cfg->model_instances > 0 ? cfg->model_instances : online;
    int threads = cfg->threads > 0 ? cfg->threads : online / instances;
    model_options opts;
    model_options_default(&opts);
    opts.intra_op_threads = threads > 0 ? threads : 1;
    opts.optimize = cfg->optimize;
    opts.precision = strcmp(cfg->precision, "bf16") == 0   ? MODEL_PRECISION_BF16
                     : strcmp(cfg->precision, "int8") == 0 ? MODEL_PRECISION_INT8
                                                           : MODEL_PRECISION_FP32;
    opts.input_height = opts.input_width = cfg->crop;
    if (model_load(cfg->model_path, &opts, &a->model, err, errlen) != 0) return -1;
    a->workers = calloc((size_t)instances, sizeof(model *));
    if (!a->workers) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < instances; i++) a->workers[i] = a->model;
    a->worker_count = instances;
    const char *engine = model_quantized_engine(a->model);
    log_info("model: %s loaded; %d worker(s) share it, %d intra-op thread(s) each, precision %s%s%s%s, optimize %s",
             cfg->model_path, instances, opts.intra_op_threads, cfg->precision, engine[0] ? " (quantized engine " : "",
             engine, engine[0] ? ")" : "", cfg->optimize ? "on" : "off");
    return 0;
}

static int app_start(app *a, char *err, size_t errlen) {
    const inferd_config *cfg = &a->cfg;
    if (labels_load(cfg->class_index_path, &a->labels, err, errlen) != 0) return -1;
    a->metrics = metrics_create();
    if (!a->metrics) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    preprocess_config pc;
    preprocess_config_default(&pc);
    pc.resize_short = cfg->resize;
    pc.crop_width = pc.crop_height = cfg->crop;
    for (int c = 0; c < 3; c++) {
        pc.mean[c] = (float)cfg->mean[c];
        pc.std[c] = (float)cfg->std[c];
    }
    if (preprocess_create(&pc, &a->preprocess, err, errlen) != 0) return -1;

    uint64_t t0 = util_now_ns();
    if (load_model(a, err, errlen) != 0) return -1;
    model_meta_parse(model_metadata(a->model), &a->meta);
    char description[256];
    model_meta_describe(&a->meta, description, sizeof(description));
    if (strcmp(a->meta.weights, "pretrained") == 0)
        log_info("model: %s", description);
    else
        log_warn("model: %s", description);

    int classes = model_num_classes(a->model);
    if (classes != labels_count(a->labels)) {
        snprintf(err, errlen, "the model outputs %d classes but %s has %d", classes, cfg->class_index_path,
                 labels_count(a->labels));
        return -1;
    }

    batcher_options bo = {
        .max_batch = cfg->max_batch,
        .batch_delay_us = cfg->batch_delay_us,
        .queue_capacity = cfg->queue_capacity,
        .request_timeout_ms = cfg->request_timeout_ms,
        .warmup_rounds = cfg->warmup,
        .on_batch = record_batch,
        .on_batch_ctx = a->metrics,
    };
    if (batcher_create(a->workers, a->worker_count, &bo, preprocess_tensor_len(a->preprocess), classes, &a->batcher,
                       err, errlen) != 0)
        return -1;

    http_deps deps = {
        .cfg = cfg,
        .labels = a->labels,
        .preprocess = a->preprocess,
        .batcher = a->batcher,
        .tensor_len = preprocess_tensor_len(a->preprocess),
        .num_classes = classes,
        .metrics = a->metrics,
        .model_arch = a->meta.arch,
        .model_kind = a->meta.weights,
        .model_seed = a->meta.seed,
        .precision = cfg->precision,
    };
    if (http_server_start(&deps, &a->http, err, errlen) != 0) return -1;
    log_info("listening on %s port %d (http threads %d, max batch %d, queue %d, body limit %lld bytes, "
             "pixel limit %lld)",
             cfg->addr, http_server_port(a->http), cfg->http_threads > 0 ? cfg->http_threads : config_online_cpus(),
             cfg->max_batch, cfg->queue_capacity, (long long)cfg->max_body_bytes, (long long)cfg->max_pixels);

    int warm = batcher_wait_warm(a->batcher, 600000);
    if (warm != 1) {
        snprintf(err, errlen, warm < 0 ? "model warm-up forward failed" : "model warm-up timed out");
        return -1;
    }
    /* Loading and warm-up leave freed buffers in malloc's arenas. */
    util_release_free_memory();
    http_server_set_ready(a->http, 1);
    log_info("ready in %.0f ms (model loaded and warmed up)", (double)(util_now_ns() - t0) / 1e6);
    return 0;
}

/* Stops accepting, lets requests in flight finish (bounded by the drain
 * timeout), and returns; a second signal during the drain ends it at once. */
static int drain(app *a, const sigset_t *signals) {
    http_server_quiesce(a->http);
    log_info("draining: %d request(s) in flight, up to %d s", http_server_in_flight(a->http), a->cfg.drain_timeout_s);
    uint64_t deadline = util_now_ns() + (uint64_t)a->cfg.drain_timeout_s * 1000000000u;
    while (http_server_in_flight(a->http) > 0) {
        if (util_now_ns() >= deadline) {
            log_warn("drain timeout: %d request(s) still in flight", http_server_in_flight(a->http));
            return -1;
        }
        struct timespec tick = {0, 10 * 1000 * 1000};
        int sig = sigtimedwait(signals, NULL, &tick);
        if (sig > 0) {
            log_warn("second signal (%d): exiting now", sig);
            return -2;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    util_retain_freed_memory();
    app a;
    memset(&a, 0, sizeof(a));
    char err[1024] = "";
    config_action action = config_load(&a.cfg, argc, argv, stdout, err, sizeof(err));
    if (action != CONFIG_RUN) {
        if (action == CONFIG_EXIT_ERROR) fprintf(stderr, "inferd: %s\n", err);
        config_free(&a.cfg);
        return action == CONFIG_EXIT_OK ? 0 : 2;
    }
    log_set_format(log_parse_format(a.cfg.log_format));

    /* Signals are taken synchronously by this thread only: block them before
     * any thread exists so that every thread inherits the mask. */
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (app_start(&a, err, sizeof(err)) != 0) {
        log_error("%s", err);
        app_free(&a);
        return 1;
    }
    int sig = 0;
    sigwait(&signals, &sig);
    log_info("signal %d: shutting down", sig);
    int drained = drain(&a, &signals);
    if (drained == -2) _exit(1);
    /* Drain time is up: what is still queued is answered 503, not run. */
    if (drained != 0) batcher_cancel_queued(a.batcher);
    app_free(&a);
    log_info("stopped");
    return drained == 0 ? 0 : 1;
}
