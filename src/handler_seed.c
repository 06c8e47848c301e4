/* The original API on "/": GET answers a message (or the browser page),
 * POST takes image(s) as multipart field "image"/"images" or as a raw body
 * and answers the class JSON, with top-k on request, and EXIF orientation
 * applied or not on request (exif_orientation, overriding the server's). */
#define _GNU_SOURCE /* strncasecmp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "handler.h"
#include "log.h"
#include "response.h"
#include "util.h"

/* The browser page, embedded at build time from web/index.html. */
extern const unsigned char inferd_web_page[];
extern const size_t inferd_web_page_len;

#define MAX_TOPK_FIELD 16
static const char topk_error[] = "topk must be an integer from 1 to 1000";
#define MAX_EXIF_FIELD 8
static const char exif_error[] = "exif_orientation must be 1, 0, true or false";

typedef struct {
    int topk;
    char topk_field[MAX_TOPK_FIELD + 1]; /* the multipart "topk" field, as it arrives */
    size_t topk_field_len;
    char exif_field[MAX_EXIF_FIELD + 1]; /* the multipart "exif_orientation" field */
    size_t exif_field_len;
} seed_request;

/* The per-request override of the exif_orientation setting. */
static int parse_exif_orientation(const char *text, int *out) {
    if (!text) return -1;
    if (!strcmp(text, "1") || !strcmp(text, "true")) {
        *out = 1;
        return 0;
    }
    if (!strcmp(text, "0") || !strcmp(text, "false")) {
        *out = 0;
        return 0;
    }
    return -1;
}

static int parse_topk(const char *text, int *out) {
    if (!text || !*text) return -1;
    int v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9' || v > 100000) return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 1000) return -1;
    *out = v;
    return 0;
}

/* A browser asks for text/html; API clients (curl's default Accept: * / *,
 * or application/json) keep the original JSON answer. */
static int wants_html(const http_request *req) {
    const char *accept = http_request_header(req, "Accept");
    return accept && strstr(accept, "text/html") != NULL;
}

static void send_page(http_request *req) {
    const char *dir = req->deps->cfg->static_dir;
    if (dir && *dir) {
        char path[4096], err[128];
        char *text;
        size_t len;
        snprintf(path, sizeof(path), "%s/index.html", dir);
        if (util_read_file(path, 4u << 20, &text, &len, err, sizeof(err)) != 0) {
            log_error("static page %s: %s", path, err);
            http_respond_error(req, 500, "the browser page is not available");
            return;
        }
        http_respond(req, 200, "text/html; charset=utf-8", text, len);
        free(text);
        return;
    }
    http_respond(req, 200, "text/html; charset=utf-8", (const char *)inferd_web_page, inferd_web_page_len);
}

static http_body_kind seed_request_start(http_request *req) {
    req->route_label = "/";
    if (strcmp(req->path, "/") != 0) {
        req->route_label = "other";
        http_respond_error(req, 404, "not found");
        return HTTP_BODY_NONE;
    }
    if (http_request_is_get(req)) {
        if (wants_html(req))
            send_page(req);
        else
            http_respond_json(req, 200, response_message_json("no input image"));
        return HTTP_BODY_NONE;
    }
    if (strcmp(req->method, "POST") != 0) {
        http_respond_method_not_allowed(req, "GET, HEAD, POST");
        return HTTP_BODY_NONE;
    }
    if (http_request_refuse_large_body(req)) return HTTP_BODY_NONE;

    seed_request *sr = calloc(1, sizeof(*sr));
    if (!sr) {
        http_respond_json(req, 500, NULL);
        return HTTP_BODY_NONE;
    }
    req->handler_data = sr;
    const char *topk = http_request_query(req, "topk");
    if (!topk) topk = http_request_header(req, "X-Topk");
    if (topk && parse_topk(topk, &sr->topk) != 0) {
        http_respond_error(req, 400, topk_error);
        return HTTP_BODY_NONE;
    }
    /* Like topk: query, else header, else (below) a form field. */
    const char *exif = http_request_query(req, "exif_orientation");
    if (!exif) exif = http_request_header(req, "X-Exif-Orientation");
    if (exif && parse_exif_orientation(exif, &req->exif_orientation) != 0) {
        http_respond_error(req, 400, exif_error);
        return HTTP_BODY_NONE;
    }
    const char *type = http_request_header(req, "Content-Type");
    if (type && !strncasecmp(type, "multipart/form-data", 19)) return HTTP_BODY_MULTIPART;
    if (type && (!strncasecmp(type, "image/", 6) || !strncasecmp(type, "application/octet-stream", 24)))
        return HTTP_BODY_IMAGE;
    http_respond_error(req, 415,
                       "send the image as multipart/form-data field 'image', or as a raw body with "
                       "Content-Type image/* or application/octet-stream");
    return HTTP_BODY_NONE;
}

static void seed_form_field(http_request *req, const char *key, const char *data, size_t size) {
    seed_request *sr = req->handler_data;
    if (key && !strcmp(key, "exif_orientation")) {
        if (sr->exif_field_len + size > MAX_EXIF_FIELD) {
            http_request_fail(req, 400, exif_error);
            return;
        }
        memcpy(sr->exif_field + sr->exif_field_len, data, size);
        sr->exif_field_len += size;
        sr->exif_field[sr->exif_field_len] = '\0';
        return;
    }
    if (!key || strcmp(key, "topk") != 0) return; /* other fields are ignored, as a form server would */
    if (sr->topk_field_len + size > MAX_TOPK_FIELD) {
        http_request_fail(req, 400, topk_error);
        return;
    }
    memcpy(sr->topk_field + sr->topk_field_len, data, size);
    sr->topk_field_len += size;
    sr->topk_field[sr->topk_field_len] = '\0';
}

static void seed_body(http_request *req) {
    seed_request *sr = req->handler_data;
    if (sr->topk_field_len && parse_topk(sr->topk_field, &sr->topk) != 0) {
        http_respond_error(req, 400, topk_error);
        return;
    }
    if (sr->exif_field_len && parse_exif_orientation(sr->exif_field, &req->exif_orientation) != 0) {
        http_respond_error(req, 400, exif_error);
        return;
    }
    if (req->item_count == 0) {
        const char *type = http_request_header(req, "Content-Type");
        int multipart = type && !strncasecmp(type, "multipart/form-data", 19);
        http_respond_error(req, 400,
                           multipart ? "no image: send the file in multipart/form-data field 'image'"
                                     : "empty request body: no image");
    }
}

static void seed_results(http_request *req) {
    const served_model *sm = req->model;
    seed_request *sr = req->handler_data;
    if (req->item_count == 1) {
        http_item *item = &req->items[0];
        if (item->status != 200)
            http_respond_error(req, item->status, item->error);
        else
            http_respond_json(req, 200,
                              response_result_json(sm->labels, item->logits, sm->num_classes, sr->topk));
        return;
    }
    /* Several images: 200 with one entry per image, in order; a bad image
     * gets {"error":..,"status":..} in its place. */
    response_item *items = malloc(sizeof(response_item) * (size_t)req->item_count);
    if (!items) {
        http_respond_json(req, 500, NULL);
        return;
    }
    for (int i = 0; i < req->item_count; i++)
        items[i] = (response_item){req->items[i].logits, req->items[i].status, req->items[i].error};
    char *body = response_results_json(sm->labels, items, req->item_count, sm->num_classes, sr->topk);
    free(items);
    http_respond_json(req, 200, body); /* NULL body: answers 500 */
}

static void seed_free(http_request *req) {
    free(req->handler_data);
    req->handler_data = NULL;
}

const handler handler_seed = {
    .on_request = seed_request_start,
    .on_form_field = seed_form_field,
    .on_body = seed_body,
    .on_results = seed_results,
    .on_free = seed_free,
};
