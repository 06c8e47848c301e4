/* The KServe v2 / Open Inference Protocol routes under "/v2": server and
 * model metadata, model readiness, infer, and the statistics and model
 * configuration extensions, for the one model under its configured name and
 * version 1. The wire format (JSON header, binary tensor data, response
 * shapes) is kserve.c's; this file maps paths to it, hands the items to the
 * transport and records the model's statistics. */
#define _GNU_SOURCE /* strncasecmp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "handler.h"
#include "kserve.h"
#include "model_stats.h"
#include "util.h"

#ifndef INFERD_VERSION
#define INFERD_VERSION "0.1.0"
#endif

#define MODEL_VERSION "1"

typedef enum { V2_SERVER, V2_MODEL, V2_MODEL_READY, V2_INFER, V2_STATS, V2_CONFIG, V2_UNKNOWN } v2_route;

/* Fixed metric labels, one per route: never client text (a model name in a
 * path is the client's). */
static const char *const route_labels[] = {"/v2",           "/v2/models",        "/v2/models/ready",
                                           "/v2/models/infer", "/v2/models/stats", "/v2/models/config",
                                           "other"};

/* One infer request's state between the transport's calls. */
typedef struct {
    kserve_request kr;
    size_t header_len; /* Inference-Header-Content-Length, or KSERVE_JSON_ONLY */
    uint64_t start_ns, body_done_ns;
} v2_infer;

/* "/v2", or "/v2/models/<name>[/versions/<version>][/ready|/infer|/stats|/config]";
 * an unknown name or version fills why for the 404. */
static v2_route v2_route_of(const char *path, const char *model_name, char *why, size_t whylen) {
    snprintf(why, whylen, "not found");
    if (!strcmp(path, "/v2")) return V2_SERVER;
    static const char models[] = "/v2/models/";
    if (strncmp(path, models, sizeof(models) - 1) != 0) return V2_UNKNOWN;
    const char *rest = path + sizeof(models) - 1;
    size_t name_len = strcspn(rest, "/");
    if (name_len != strlen(model_name) || strncmp(rest, model_name, name_len) != 0) {
        snprintf(why, whylen, "unknown model \"%.*s\" (this server serves \"%s\")", (int)(name_len < 64 ? name_len : 64),
                 rest, model_name);
        return V2_UNKNOWN;
    }
    rest += name_len;
    static const char versions[] = "/versions/";
    if (!strncmp(rest, versions, sizeof(versions) - 1)) {
        rest += sizeof(versions) - 1;
        size_t version_len = strcspn(rest, "/");
        if (version_len != strlen(MODEL_VERSION) || strncmp(rest, MODEL_VERSION, version_len) != 0) {
            snprintf(why, whylen, "unknown version \"%.*s\" of model \"%s\" (it has version " MODEL_VERSION ")",
                     (int)(version_len < 32 ? version_len : 32), rest, model_name);
            return V2_UNKNOWN;
        }
        rest += version_len;
    }
    if (!*rest) return V2_MODEL;
    if (!strcmp(rest, "/ready")) return V2_MODEL_READY;
    if (!strcmp(rest, "/infer")) return V2_INFER;
    if (!strcmp(rest, "/stats")) return V2_STATS;
    if (!strcmp(rest, "/config")) return V2_CONFIG;
    return V2_UNKNOWN;
}

/* The model as the request took it: a reload may have changed the
 * architecture, classes and preprocessing, never the name. */
static void model_of(const http_request *req, kserve_model *m) {
    const http_deps *d = req->deps;
    const inferd_config *cfg = d->cfg;
    const served_model *sm = req->model;
    const preprocess_config *pc = &sm->preprocess_config;
    memset(m, 0, sizeof(*m));
    m->name = d->model_name;
    m->version = MODEL_VERSION;
    m->platform = "pytorch_libtorch";
    m->labels = sm->labels;
    m->num_classes = sm->num_classes;
    m->channels = 3;
    m->height = pc->crop_height;
    m->width = pc->crop_width;
    m->weights = sm->meta.weights;
    m->precision = d->precision;
    m->max_batch = cfg->max_batch;
    m->batch_delay_us = cfg->batch_delay_us;
    m->queue_capacity = cfg->queue_capacity;
    m->max_images = cfg->max_images;
    m->instances = cfg->model_instances > 0 ? cfg->model_instances : config_online_cpus();
    m->resize = pc->resize_short;
    m->resize_height = pc->resize_height;
    m->resize_width = pc->resize_width;
    m->interpolation = preprocess_interpolation_name(pc->interpolation);
    for (int c = 0; c < 3; c++) {
        m->mean[c] = pc->mean[c];
        m->std[c] = pc->std[c];
    }
}

static void answer_get(http_request *req, v2_route route) {
    kserve_model m;
    model_of(req, &m);
    if (route == V2_SERVER) {
        http_respond_json(req, 200, kserve_server_metadata(INFERD_VERSION));
    } else if (route == V2_MODEL) {
        http_respond_json(req, 200, kserve_model_metadata(&m));
    } else if (route == V2_CONFIG) {
        http_respond_json(req, 200, kserve_model_config(&m));
    } else if (route == V2_STATS) {
        kserve_stats st;
        model_stats_snapshot(req->deps->model_stats, &st);
        http_respond_json(req, 200, kserve_model_stats(&m, &st));
    } else if (http_server_is_draining(req->server)) {
        http_respond_error(req, 503, "shutting down");
    } else if (!http_server_is_ready(req->server)) {
        http_respond_error(req, 503, "model is loading");
    } else {
        http_respond_json(req, 200, kserve_model_ready(&m));
    }
}

static http_body_kind v2_request(http_request *req) {
    char why[192];
    v2_route route = v2_route_of(req->path, req->deps->model_name, why, sizeof(why));
    req->route_label = route_labels[route];
    if (route == V2_UNKNOWN) {
        http_respond_error(req, 404, why);
        return HTTP_BODY_NONE;
    }
    if (route != V2_INFER) {
        if (!http_request_is_get(req))
            http_respond_method_not_allowed(req, "GET, HEAD");
        else
            answer_get(req, route);
        return HTTP_BODY_NONE;
    }
    if (strcmp(req->method, "POST") != 0) {
        http_respond_method_not_allowed(req, "POST");
        return HTTP_BODY_NONE;
    }
    if (http_request_refuse_large_body(req)) return HTTP_BODY_NONE;
    v2_infer *v = calloc(1, sizeof(*v));
    if (!v) {
        http_respond_json(req, 500, NULL);
        return HTTP_BODY_NONE;
    }
    req->handler_data = v;
    v->start_ns = util_now_ns();
    v->header_len = KSERVE_JSON_ONLY;
    const char *header_len = http_request_header(req, "Inference-Header-Content-Length");
    if (header_len && kserve_parse_header_length(header_len, &v->header_len) != 0) {
        http_respond_error(req, 400, "Inference-Header-Content-Length must be a byte count");
        return HTTP_BODY_NONE;
    }
    /* A JSON body says so; with the binary tensor data extension the header
     * length frames the body, whatever type the client names (Triton's
     * clients send application/octet-stream, curl its form default). */
    const char *type = http_request_header(req, "Content-Type");
    if (!header_len && type && strncasecmp(type, "application/json", 16) != 0 &&
        strncasecmp(type, "application/octet-stream", 24) != 0) {
        http_respond_error(req, 415, "the infer request must be application/json (or carry "
                                     "Inference-Header-Content-Length for binary tensor data)");
        return HTTP_BODY_NONE;
    }
    return HTTP_BODY_BYTES;
}

/* Triton's request parameter "timeout" (microseconds) becomes the
 * request's deadline. Only the JSON header is read (binary tensor data may
 * follow it), and only when it names the parameter. Returns 0, or -1 after
 * answering 400. */
static int apply_timeout_parameter(http_request *req, size_t header_len) {
    size_t json_len = header_len != KSERVE_JSON_ONLY ? header_len : req->body_len;
    if (!req->body || json_len > req->body_len || !memmem(req->body, json_len, "\"timeout\"", 9)) return 0;
    cJSON *root = cJSON_ParseWithLength(req->body, json_len);
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "parameters");
    const cJSON *timeout = cJSON_GetObjectItemCaseSensitive(params, "timeout");
    int rc = 0;
    if (timeout) {
        double us = cJSON_IsNumber(timeout) ? timeout->valuedouble : -1;
        if (!(us >= 1 && us <= 3600e6)) {
            http_respond_error(req, 400, "parameters.timeout must be a number of microseconds from 1 to 3600000000");
            rc = -1;
        } else {
            http_request_set_timeout_ms(req, (uint64_t)((us + 999) / 1000));
        }
    }
    cJSON_Delete(root);
    return rc;
}

static void record_failure(http_request *req, v2_infer *v) {
    model_stats_request r = {.ok = 0, .total_ns = util_now_ns() - v->start_ns};
    model_stats_record_request(req->deps->model_stats, &r);
}

static void v2_body(http_request *req) {
    v2_infer *v = req->handler_data;
    const inferd_config *cfg = req->deps->cfg;
    kserve_limits limits = {cfg->max_images, 3, req->model->preprocess_config.crop_height,
                            req->model->preprocess_config.crop_width};
    char err[256];
    int status = kserve_parse_infer((const uint8_t *)(req->body ? req->body : ""), req->body_len, v->header_len,
                                    &limits, &v->kr, err, sizeof(err));
    if (status != 0) {
        record_failure(req, v);
        http_respond_error(req, status, err);
        return;
    }
    if (apply_timeout_parameter(req, v->header_len) != 0) return;
    /* The items become the request's; kserve keeps only the options. */
    for (int i = 0; i < v->kr.item_count; i++) {
        kserve_item *item = &v->kr.items[i];
        if (item->image) {
            if (http_request_add_image(req, item->image, item->image_len) != 0) break;
            item->image = NULL;
        } else {
            if (http_request_add_tensor(req, item->tensor) != 0) break;
            item->tensor = NULL;
        }
    }
    v->body_done_ns = util_now_ns();
}

/* The request's share of each phase: its items ran as (parts of) batches,
 * so the phases are spans over its items. */
static void record_success(http_request *req, v2_infer *v, uint64_t output_ns) {
    uint64_t first_enqueued = UINT64_MAX, first_started = UINT64_MAX, last_finished = 0, queue = 0;
    for (int i = 0; i < req->item_count; i++) {
        const batch_job *job = &req->items[i].job;
        if (!job->started_ns) continue;
        if (job->enqueued_ns < first_enqueued) first_enqueued = job->enqueued_ns;
        if (job->started_ns < first_started) first_started = job->started_ns;
        if (job->finished_ns > last_finished) last_finished = job->finished_ns;
        if (job->started_ns - job->enqueued_ns > queue) queue = job->started_ns - job->enqueued_ns;
    }
    model_stats_request r = {.ok = 1, .items = req->item_count, .total_ns = util_now_ns() - v->start_ns,
                             .output_ns = output_ns};
    if (last_finished) {
        r.queue_ns = queue;
        r.input_ns = first_enqueued > v->body_done_ns ? first_enqueued - v->body_done_ns : 0;
        r.infer_ns = last_finished - first_started;
    }
    model_stats_record_request(req->deps->model_stats, &r);
}

static void v2_results(http_request *req) {
    v2_infer *v = req->handler_data;
    for (int i = 0; i < req->item_count; i++) {
        http_item *item = &req->items[i];
        if (item->status != 200) {
            char msg[320];
            snprintf(msg, sizeof(msg), "image %d: %s", i, item->error);
            record_failure(req, v);
            http_respond_error(req, item->status, msg);
            return;
        }
    }
    uint64_t t0 = util_now_ns();
    const float **logits = malloc(sizeof(float *) * (size_t)req->item_count);
    kserve_model m;
    model_of(req, &m);
    kserve_response resp;
    int built = -1;
    if (logits) {
        /* kr's items moved to the transport; their count is still the request's. */
        for (int i = 0; i < req->item_count; i++) logits[i] = req->items[i].logits;
        built = kserve_infer_response(&v->kr, &m, logits, &resp);
    }
    free(logits);
    if (built != 0) {
        record_failure(req, v);
        http_respond_json(req, 500, NULL);
        return;
    }
    if (resp.header_len) {
        char value[32];
        snprintf(value, sizeof(value), "%zu", resp.header_len);
        http_respond_with_header(req, 200, "application/octet-stream", (const char *)resp.body, resp.len,
                                 "Inference-Header-Content-Length", value);
    } else {
        http_respond(req, 200, "application/json", (const char *)resp.body, resp.len);
    }
    kserve_response_free(&resp);
    record_success(req, v, util_now_ns() - t0);
}

static void v2_free(http_request *req) {
    v2_infer *v = req->handler_data;
    if (v) kserve_request_free(&v->kr);
    free(v);
    req->handler_data = NULL;
}

const handler handler_v2 = {
    .on_request = v2_request,
    .on_body = v2_body,
    .on_results = v2_results,
    .on_free = v2_free,
};
