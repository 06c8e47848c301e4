/* The operational routes: liveness, readiness, Prometheus metrics, /info. */
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "metrics.h"
#include "response.h"

#ifndef INFERD_VERSION
#define INFERD_VERSION "0.1.0"
#endif

static void answer_ready(http_request *req) {
    static const char body[] = "{\"status\":\"ready\"}";
    if (http_server_is_draining(req->server))
        http_respond_error(req, 503, "shutting down");
    else if (!http_server_is_ready(req->server))
        http_respond_error(req, 503, "model is loading");
    else
        http_respond(req, 200, "application/json", body, sizeof(body) - 1);
}

static void answer_metrics(http_request *req) {
    const http_deps *d = req->deps;
    model_slot_stats st;
    model_slot_get_stats(d->models, &st);
    metrics_gauges g = {
        .in_flight = http_server_in_flight(req->server),
        .queue_depth = batcher_queue_depth(d->batcher),
        .ready = http_server_is_ready(req->server),
        .model_name = d->model_name,
        .weights = req->model->meta.weights,
        .precision = d->precision,
        .model_load_seconds = st.load_seconds,
        .model_warm_seconds = st.warm_seconds,
        .model_reloads = st.reloads_ok,
        .model_reload_failures = st.reloads_failed,
        .model_generation = st.generation,
    };
    char *text = metrics_render(d->metrics, &g);
    if (!text) {
        http_respond_json(req, 500, NULL);
        return;
    }
    http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text));
    free(text);
}

static void answer_info(http_request *req) {
    const http_deps *d = req->deps;
    const served_model *sm = req->model;
    model_slot_stats st;
    model_slot_get_stats(d->models, &st);
    /* The request's model; the statistics are the slot's (the same model
     * unless a reload finished in between). */
    response_model_info mi = {
        .name = d->model_name,
        .arch = sm->meta.arch,
        .weights = sm->meta.weights,
        .seed = sm->meta.seed,
        .precision = d->precision,
        .input_size = sm->preprocess_config.crop_height,
        .num_classes = sm->num_classes,
        .preprocessing = sm->sources,
        .load_seconds = sm->load_seconds,
        .warm_seconds = sm->warm_seconds,
        .generation = sm->generation,
        .reloads = st.reloads_ok,
        .failed_reloads = st.reloads_failed,
    };
    http_respond_json(req, 200,
                      response_info_json(INFERD_VERSION, &mi, (long long)d->cfg->max_body_bytes,
                                         (long long)d->cfg->max_pixels, d->cfg->max_images));
}

static http_body_kind ops_request(http_request *req) {
    static const struct {
        const char *path;
        const char *label;
        void (*answer)(http_request *req);
    } routes[] = {
        {"/health", "/health", NULL},
        {"/v2/health/live", "/health", NULL},
        {"/ready", "/ready", answer_ready},
        {"/v2/health/ready", "/ready", answer_ready},
        {"/metrics", "/metrics", answer_metrics},
        {"/info", "/info", answer_info},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(req->path, routes[i].path) != 0) continue;
        req->route_label = routes[i].label;
        if (!http_request_is_get(req)) {
            http_respond_method_not_allowed(req, "GET, HEAD");
        } else if (routes[i].answer) {
            routes[i].answer(req);
        } else {
            static const char ok[] = "{\"status\":\"ok\"}";
            http_respond(req, 200, "application/json", ok, sizeof(ok) - 1);
        }
        return HTTP_BODY_NONE;
    }
    http_respond_error(req, 404, "not found");
    return HTTP_BODY_NONE;
}

const handler handler_ops = {.on_request = ops_request};
