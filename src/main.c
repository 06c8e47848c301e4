/* inferd: wires config, the served model (model, labels, preprocessing) in
 * its reloadable slot, the batcher, model control and the HTTP listeners
 * together, then waits for signals: SIGHUP reloads the model, SIGINT/SIGTERM
 * drain and stop. */
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
#include "model_control.h"
#include "model_meta.h"
#include "model_slot.h"
#include "preprocess.h"
#include "served_model.h"
#include "util.h"

typedef struct {
    inferd_config cfg;
    served_model *served; /* the model loaded at start (its reference passes to slot) */
    model_slot *slot;     /* the model being served now */
    model_options model_opts;
    model **workers;      /* model_instances entries: warm-up of the first model; jobs name their own */
    int worker_count;
    int lone_threads;     /* intra-op threads for a lone request, 0 = off */
    batcher *batcher;
    model_control control;
    http_server *http;
    http_server *admin;   /* model control on its own listener (admin_addr), or NULL */
    metrics *metrics;
    char model_name[64];   /* the v2 API's name: fixed across reloads */
    model_stats *model_stats;
} app;

static void record_batch(void *ctx, int batch_size, double seconds, int boosted) {
    app *a = ctx;
    metrics_observe_batch(a->metrics, batch_size, seconds, boosted);
    model_stats_record_batch(a->model_stats, batch_size, (uint64_t)(seconds * 1e9));
}

/* A replaced model is gone, but oneDNN still caches its kernels (measured:
 * 3.8 MB live after densenet121 -> efficientnet_b0) and its activations'
 * memory is still resident in the workers' malloc arenas. */
static void release_replaced_model_memory(void *arg) {
    app *a = arg;
    model_drop_kernel_cache();
    batcher_release_worker_heaps(a->batcher);
}

static void app_free(app *a) {
    /* The batcher stops first: it runs what is queued and so resumes every
     * suspended connection before the HTTP daemon goes away. */
    if (a->batcher) batcher_stop(a->batcher);
    http_server_stop(a->http);
    http_server_stop(a->admin);
    if (a->batcher) batcher_free(a->batcher);
    free(a->workers);
    if (a->slot)
        model_slot_free(a->slot);
    else
        served_model_release(a->served);
    metrics_free(a->metrics);
    model_stats_free(a->model_stats);
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
    /* A lone request may use the cores idle workers would (measured:
     * bench/bench.py's single-client rows, lone boost on and off). Not by
     * default for int8: libtorch 1.13's quantized oneDNN convolutions keep
     * one kernel per layer, built for the first input shape and thread
     * count they run (the workers' batch 1); a forward on another count
     * rebuilds them at every layer (densenet121 batch 1 on 2 threads: 17.9
     * ms so, 13.4 ms with kernels built for 2 threads, 17.8 ms on 1). */
    int int8_auto = opts.precision == MODEL_PRECISION_INT8 && cfg->lone_request_threads == 0;
    int lone = cfg->lone_request_threads > 0 ? cfg->lone_request_threads : int8_auto ? 0 : online;
    a->lone_threads = batcher_lone_threads_that_fit(online, instances, opts.intra_op_threads, lone);
    if (cfg->lone_request_threads > opts.intra_op_threads && a->lone_threads != lone)
        log_warn("lone_request_threads %d would give this process more OpenMP threads than its %d CPUs (then every "
                 "forward sleeps between parallel regions): %s%d",
                 lone, online, a->lone_threads ? "using " : "lone boost off, the most that fits is ",
                 a->lone_threads ? a->lone_threads : opts.intra_op_threads);
    a->model_opts = opts;
    if (served_model_load(cfg, &opts, &a->served, err, errlen) != 0) return -1;
    a->served->generation = 1;
    a->workers = calloc((size_t)instances, sizeof(model *));
    if (!a->workers) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < instances; i++) a->workers[i] = a->served->model;
    a->worker_count = instances;
    const served_model *sm = a->served;
    const char *engine = model_quantized_engine(sm->model);
    log_info("model: %s loaded in %.2f s (%d classes, labels %s as %s); %d worker(s) share it, %d intra-op "
             "thread(s) each, precision %s%s%s%s, optimize %s",
             cfg->model_path, sm->load_seconds, sm->num_classes, cfg->class_index_path,
             labels_format_name(labels_get_format(sm->labels)), instances, opts.intra_op_threads, cfg->precision,
             engine[0] ? " (quantized engine " : "", engine, engine[0] ? ")" : "", cfg->optimize ? "on" : "off");
    if (a->lone_threads)
        log_info("lone requests: up to %d intra-op threads while the other workers are idle, when measured faster",
                 a->lone_threads);
    else if (int8_auto)
        log_info("lone requests: on the workers' own threads (int8: its quantized kernels are built for one thread "
                 "count; lone_request_threads turns the boost on)");
    log_info("preprocessing: %s", sm->sources);
    return 0;
}

static int app_start(app *a, char *err, size_t errlen) {
    const inferd_config *cfg = &a->cfg;
    a->metrics = metrics_create();
    a->model_stats = model_stats_create();
    if (!a->metrics || !a->model_stats) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }

    uint64_t t0 = util_now_ns();
    if (load_model(a, err, errlen) != 0) return -1;
    const served_model *sm = a->served;
    char description[256];
    model_meta_describe(&sm->meta, description, sizeof(description));
    if (strcmp(sm->meta.weights, "pretrained") == 0 || strcmp(sm->meta.weights, "user") == 0)
        log_info("model: %s", description);
    else
        log_warn("model: %s", description);

    if (*cfg->model_name)
        snprintf(a->model_name, sizeof(a->model_name), "%s", cfg->model_name);
    else
        model_meta_default_name(&sm->meta, cfg->model_path, a->model_name, sizeof(a->model_name));
    log_info("model name on the v2 API: %s (version 1)", a->model_name);
    int classes = sm->num_classes;
    /* What /info and the v2 metadata report as the input size. */
    a->cfg.crop = sm->preprocess_config.crop_height;

    batcher_options bo = {
        .max_batch = cfg->max_batch,
        .batch_delay_us = cfg->batch_delay_us,
        .queue_capacity = cfg->queue_capacity,
        .request_timeout_ms = cfg->request_timeout_ms,
        .warmup_rounds = cfg->warmup,
        .lone_threads = a->lone_threads,
        .on_batch = record_batch,
        .on_batch_ctx = a,
    };
    uint64_t warm_start = util_now_ns();
    if (batcher_create(a->workers, a->worker_count, &bo, sm->tensor_len, classes, &a->batcher,
                       err, errlen) != 0)
        return -1;

    model_slot_options so = {
        .cfg = cfg,
        .model_opts = a->model_opts,
        .warmup_max_batch = cfg->max_batch,
        .warmup_rounds = cfg->warmup > 0 ? cfg->warmup : 1,
        .warmup_lone_threads = a->lone_threads,
        .replaced_model_freed = release_replaced_model_memory,
        .replaced_model_freed_arg = a,
    };
    if (model_slot_create(&so, a->served, &a->slot, err, errlen) != 0) return -1;
    a->control = (model_control){
        .enabled = strcmp(cfg->model_control, "explicit") == 0,
        .token = cfg->admin_token,
        .slot = a->slot,
        .name = a->model_name,
    };
    int own_admin = a->control.enabled && *cfg->admin_addr;
    http_deps deps = {
        .cfg = cfg,
        .models = a->slot,
        .control = &a->control,
        .routes = own_admin ? HTTP_ROUTES_PUBLIC : HTTP_ROUTES_ALL,
        .batcher = a->batcher,
        .metrics = a->metrics,
        .model_name = a->model_name,
        .model_stats = a->model_stats,
        .precision = cfg->precision,
    };
    if (http_server_start(&deps, &a->http, err, errlen) != 0) return -1;
    if (own_admin) {
        http_deps admin = deps;
        admin.routes = HTTP_ROUTES_ADMIN;
        admin.addr = cfg->admin_addr;
        admin.port = cfg->admin_port;
        if (http_server_start(&admin, &a->admin, err, errlen) != 0) return -1;
        log_info("model control listening on %s port %d", cfg->admin_addr, http_server_port(a->admin));
    }
    log_info("model control: %s%s", a->control.enabled ? "explicit (POST /v2/repository/models/NAME/load)" : "off",
             a->control.enabled ? (*cfg->admin_token ? ", bearer token required" : ", NO TOKEN (set admin_token)")
                                : " (SIGHUP reloads)");
    log_info("listening on %s port %d (http threads %d, max batch %d, queue %d, body limit %lld bytes, "
             "pixel limit %lld)",
             cfg->addr, http_server_port(a->http), cfg->http_threads > 0 ? cfg->http_threads : config_online_cpus(),
             cfg->max_batch, cfg->queue_capacity, (long long)cfg->max_body_bytes, (long long)cfg->max_pixels);

    int warm = batcher_wait_warm(a->batcher, 600000);
    if (warm != 1) {
        snprintf(err, errlen, warm < 0 ? "model warm-up forward failed" : "model warm-up timed out");
        return -1;
    }
    a->served->warm_seconds = (double)(util_now_ns() - warm_start) / 1e9;
    /* Loading and warm-up leave freed buffers in malloc's arenas. */
    util_release_free_memory();
    http_server_set_ready(a->http, 1);
    if (a->admin) http_server_set_ready(a->admin, 1);
    log_info("ready in %.0f ms (model %s: load %.2f s, warm-up %.2f s)", (double)(util_now_ns() - t0) / 1e6,
             sm->meta.name, sm->load_seconds, sm->warm_seconds);
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
        if (sig == SIGHUP) {
            log_info("SIGHUP while draining: no reload");
            continue;
        }
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
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (app_start(&a, err, sizeof(err)) != 0) {
        log_error("%s", err);
        app_free(&a);
        return 1;
    }
    int sig = 0;
    /* SIGHUP reloads the model file and labels (here, on this thread: a
     * SIGTERM that arrives meanwhile is taken once the reload is done). */
    while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
        if (model_slot_reload(a.slot, "SIGHUP", err, sizeof(err)) == MODEL_RELOAD_OK) util_release_free_memory();
    }
    log_info("signal %d: shutting down", sig);
    int drained = drain(&a, &signals);
    if (drained == -2) _exit(1);
    /* Drain time is up: what is still queued is answered 503, not run. */
    if (drained != 0) batcher_cancel_queued(a.batcher);
    app_free(&a);
    log_info("stopped");
    return drained == 0 ? 0 : 1;
}
