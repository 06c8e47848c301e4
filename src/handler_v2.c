/* The KServe v2 / Open Inference Protocol routes under "/v2": server and
 * model metadata, model readiness, and infer. The JSON shapes are
 * kserve.c's; this file maps paths to them and hands the images over. */
#define _GNU_SOURCE /* strncasecmp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handler.h"
#include "kserve.h"

#ifndef INFERD_VERSION
#define INFERD_VERSION "0.1.0"
#endif

typedef enum { V2_SERVER, V2_MODEL, V2_MODEL_READY, V2_INFER, V2_UNKNOWN } v2_route;

/* "/v2", or "/v2/models/<name>[/versions/<version>][/ready|/infer]". */
static v2_route v2_route_of(const char *path) {
    if (!strcmp(path, "/v2")) return V2_SERVER;
    static const char models[] = "/v2/models/";
    if (strncmp(path, models, sizeof(models) - 1) != 0) return V2_UNKNOWN;
    const char *rest = path + sizeof(models) - 1;
    size_t name_len = strcspn(rest, "/");
    if (name_len != strlen(KSERVE_MODEL_NAME) || strncmp(rest, KSERVE_MODEL_NAME, name_len) != 0) return V2_UNKNOWN;
    rest += name_len;
    static const char version[] = "/versions/1";
    if (!strncmp(rest, version, sizeof(version) - 1)) rest += sizeof(version) - 1;
    if (!*rest) return V2_MODEL;
    if (!strcmp(rest, "/ready")) return V2_MODEL_READY;
    if (!strcmp(rest, "/infer")) return V2_INFER;
    return V2_UNKNOWN;
}

static http_body_kind v2_request(http_request *req) {
    const http_deps *d = req->deps;
    v2_route route = v2_route_of(req->path);
    static const char *const route_labels[] = {"/v2", "/v2/models", "/v2/models/ready", "/v2/models/infer", "other"};
    req->route_label = route_labels[route];
    if (route == V2_UNKNOWN) {
        http_respond_error(req, 404, "not found");
        return HTTP_BODY_NONE;
    }
    if (route != V2_INFER) {
        if (!http_request_is_get(req)) {
            http_respond_method_not_allowed(req, "GET, HEAD");
        } else if (route == V2_SERVER) {
            http_respond_json(req, 200, kserve_server_metadata(INFERD_VERSION));
        } else if (route == V2_MODEL) {
            http_respond_json(req, 200,
                              kserve_model_metadata(req->model->preprocess_config.crop_height, req->model->num_classes,
                                                    req->model->meta.weights, d->precision));
        } else if (http_server_is_draining(req->server)) {
            http_respond_error(req, 503, "shutting down");
        } else if (!http_server_is_ready(req->server)) {
            http_respond_error(req, 503, "model is loading");
        } else {
            static const char body[] = "{\"name\":\"" KSERVE_MODEL_NAME "\",\"ready\":true}";
            http_respond(req, 200, "application/json", body, sizeof(body) - 1);
        }
        return HTTP_BODY_NONE;
    }
    if (strcmp(req->method, "POST") != 0) {
        http_respond_method_not_allowed(req, "POST");
        return HTTP_BODY_NONE;
    }
    if (http_request_refuse_large_body(req)) return HTTP_BODY_NONE;
    const char *type = http_request_header(req, "Content-Type");
    if (type && strncasecmp(type, "application/json", 16) != 0) {
        http_respond_error(req, 415, "the infer request must be application/json");
        return HTTP_BODY_NONE;
    }
    kserve_request *kr = calloc(1, sizeof(*kr));
    if (!kr) {
        http_respond_json(req, 500, NULL);
        return HTTP_BODY_NONE;
    }
    req->handler_data = kr;
    return HTTP_BODY_BYTES;
}

static void v2_body(http_request *req) {
    kserve_request *kr = req->handler_data;
    char err[256];
    int status = kserve_parse_infer(req->body ? req->body : "", req->body_len, req->deps->cfg->max_images, kr, err,
                                    sizeof(err));
    if (status != 0) {
        http_respond_error(req, status, err);
        return;
    }
    /* The decoded images become the request's items; kserve keeps only the options. */
    for (int i = 0; i < kr->image_count; i++) {
        if (http_request_add_image(req, kr->images[i].data, kr->images[i].len) != 0) return;
        kr->images[i].data = NULL;
    }
}

static void v2_results(http_request *req) {
    for (int i = 0; i < req->item_count; i++) {
        http_item *item = &req->items[i];
        if (item->status != 200) {
            char msg[320];
            snprintf(msg, sizeof(msg), "image %d: %s", i, item->error);
            http_respond_error(req, item->status, msg);
            return;
        }
    }
    const float **logits = malloc(sizeof(float *) * (size_t)req->item_count);
    if (!logits) {
        http_respond_json(req, 500, NULL);
        return;
    }
    for (int i = 0; i < req->item_count; i++) logits[i] = req->items[i].logits;
    char *body = kserve_infer_response(req->handler_data, req->model->labels, logits, req->model->num_classes);
    free(logits);
    http_respond_json(req, 200, body);
}

static void v2_free(http_request *req) {
    kserve_request *kr = req->handler_data;
    if (kr) kserve_request_free(kr);
    free(kr);
    req->handler_data = NULL;
}

const handler handler_v2 = {
    .on_request = v2_request,
    .on_body = v2_body,
    .on_results = v2_results,
    .on_free = v2_free,
};
