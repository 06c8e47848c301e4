/* The model-control routes (/v2/repository/...): the transport hands the
 * method, path and Authorization header to model_control, which decides and
 * builds the answer. A load blocks this HTTP thread while the new model
 * loads (seconds); SIGHUP or a separate admin listener (admin_addr) keep
 * that off the public connections' threads. */
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "model_control.h"

static http_body_kind control_request(http_request *req) {
    req->route_label = "/v2/repository";
    model_control_response r;
    model_control_handle(req->deps->control, req->method, req->path, http_request_header(req, "Authorization"), &r);
    if (r.status == 405 && r.allow) {
        free(r.body);
        http_respond_method_not_allowed(req, r.allow);
        return HTTP_BODY_NONE;
    }
    if (r.www_authenticate) http_request_set_header(req, "WWW-Authenticate", r.www_authenticate);
    http_respond_json(req, r.status, r.body);
    return HTTP_BODY_NONE;
}

const handler handler_model_control = {.on_request = control_request};
