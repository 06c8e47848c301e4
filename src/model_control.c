#include "model_control.h"

#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "response.h"

#define REPOSITORY "/v2/repository"

int model_control_owns(const char *path) {
    size_t n = strlen(REPOSITORY);
    return strncmp(path, REPOSITORY, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

int model_control_token_equal(const char *secret, const char *candidate) {
    size_t n = strlen(secret), m = strlen(candidate);
    /* Every byte of the secret is compared whatever the candidate holds, and
     * a length mismatch is folded in: the time does not tell how much of a
     * guess was right. */
    unsigned diff = (unsigned)(n ^ m);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = i < m ? (unsigned char)candidate[i] : 0;
        diff |= (unsigned)((unsigned char)secret[i] ^ c);
    }
    return diff == 0;
}

static void answer(model_control_response *out, int status, char *body) {
    out->status = status;
    out->body = body;
}

static void error(model_control_response *out, int status, const char *message) {
    answer(out, status, response_error_json(message));
}

/* 0 when allowed; else fills out (401 or 403). */
static int authorise(const model_control *mc, const char *authorization, model_control_response *out) {
    if (!mc->enabled) {
        error(out, 403, "model control is disabled on this server (set model_control to \"explicit\" to enable it)");
        return -1;
    }
    if (!mc->token || !*mc->token) return 0;
    const char *prefix = "Bearer ";
    if (!authorization || strncmp(authorization, prefix, strlen(prefix)) != 0) {
        out->www_authenticate = "Bearer realm=\"inferd model control\"";
        error(out, 401, "model control needs \"Authorization: Bearer <admin token>\"");
        return -1;
    }
    const char *candidate = authorization + strlen(prefix);
    while (*candidate == ' ') candidate++;
    if (!model_control_token_equal(mc->token, candidate)) {
        error(out, 403, "wrong admin token");
        return -1;
    }
    return 0;
}

/* The configured v2 name, else the name the current model file states. */
static void model_control_name(const model_control *mc, char *out, size_t outlen) {
    if (mc->name && *mc->name) {
        snprintf(out, outlen, "%s", mc->name);
        return;
    }
    served_model *sm = model_slot_acquire(mc->slot);
    snprintf(out, outlen, "%s", sm->meta.name);
    served_model_release(sm);
}

static char *index_json(model_slot *slot, const char *name) {
    served_model *sm = model_slot_acquire(slot);
    model_slot_stats st;
    model_slot_get_stats(slot, &st);
    cJSON *root = cJSON_CreateArray();
    cJSON *m = cJSON_CreateObject();
    cJSON_AddItemToArray(root, m);
    cJSON_AddStringToObject(m, "name", name);
    cJSON_AddStringToObject(m, "version", "1");
    cJSON_AddStringToObject(m, "state", st.reloading ? "LOADING" : "READY");
    cJSON_AddStringToObject(m, "reason", st.reloading ? "a reload is in progress; the current model keeps serving"
                                                      : st.last_error);
    cJSON_AddStringToObject(m, "arch", sm->meta.arch);
    cJSON_AddNumberToObject(m, "num_classes", sm->num_classes);
    cJSON_AddNumberToObject(m, "generation", st.generation);
    cJSON_AddNumberToObject(m, "reloads", (double)st.reloads_ok);
    cJSON_AddNumberToObject(m, "failed_reloads", (double)st.reloads_failed);
    cJSON_AddNumberToObject(m, "load_seconds", st.load_seconds);
    cJSON_AddNumberToObject(m, "warm_seconds", st.warm_seconds);
    served_model_release(sm);
    return response_print_and_delete(root);
}

void model_control_handle(const model_control *mc, const char *method, const char *path, const char *authorization,
                          model_control_response *out) {
    memset(out, 0, sizeof(*out));
    if (authorise(mc, authorization, out) != 0) return;

    if (strcmp(path, REPOSITORY "/index") == 0) {
        if (strcmp(method, "POST") != 0 && strcmp(method, "GET") != 0) {
            out->allow = "GET, POST";
            error(out, 405, "use POST (or GET) for the repository index");
            return;
        }
        char index_name[80];
        model_control_name(mc, index_name, sizeof(index_name));
        answer(out, 200, index_json(mc->slot, index_name));
        return;
    }
    const char *models = REPOSITORY "/models/";
    size_t n = strlen(models);
    const char *slash = strncmp(path, models, n) == 0 ? strchr(path + n, '/') : NULL;
    if (!slash || slash == path + n) {
        error(out, 404, "unknown model-control route (POST /v2/repository/index, "
                        "POST /v2/repository/models/{name}/load)");
        return;
    }
    const char *action = slash + 1;
    if (strcmp(action, "load") != 0 && strcmp(action, "unload") != 0) {
        error(out, 404, "unknown model-control action (load)");
        return;
    }
    if (strcmp(method, "POST") != 0) {
        out->allow = "POST";
        error(out, 405, "use POST");
        return;
    }
    char name[80];
    model_control_name(mc, name, sizeof(name));
    size_t name_len = (size_t)(slash - (path + n));
    int known = strlen(name) == name_len && strncmp(name, path + n, name_len) == 0;
    if (!known) {
        char msg[256];
        snprintf(msg, sizeof(msg), "unknown model: this server serves \"%s\"", name);
        error(out, 404, msg);
        return;
    }
    if (strcmp(action, "unload") == 0) {
        error(out, 400, "unload is not supported: the server always serves one model (load replaces it)");
        return;
    }
    char err[1024];
    switch (model_slot_reload(mc->slot, "POST load", err, sizeof(err))) {
    case MODEL_RELOAD_OK: answer(out, 200, response_print_and_delete(cJSON_CreateObject())); return;
    case MODEL_RELOAD_BUSY: error(out, 409, err); return;
    case MODEL_RELOAD_FAILED: error(out, 400, err); return;
    }
    error(out, 500, "unexpected reload status");
}
