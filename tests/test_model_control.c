/* test_model_control: model_control.h with the stub model (no libtorch):
 * the door is shut by default (403 on every route), a configured token is
 * required (401 with WWW-Authenticate without it, 403 with a wrong one, also
 * one that is a prefix or an extension of the right one), the index lists
 * the model and its state, load reloads only the configured files (a
 * failure answers 400 with the reason and keeps the model), wrong methods
 * 405, unknown names/routes 404, unload 400; the constant-time compare. The
 * busy (409) case needs a slow load: test_model_slot covers it with real
 * models. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "check.h"
#include "model_control.h"

static model_control_response call(const model_control *mc, const char *method, const char *path,
                                   const char *auth) {
    model_control_response r;
    model_control_handle(mc, method, path, auth, &r);
    return r;
}

#define EXPECT(mc, method, path, auth, want_status, want_text)                                                   \
    do {                                                                                                         \
        model_control_response r_ = call((mc), (method), (path), (auth));                                        \
        CHECK_MSG(r_.status == (want_status), "%s %s (auth %s): %d, want %d: %s", (method), (path),              \
                  (auth) ? (auth) : "none", r_.status, (want_status), r_.body ? r_.body : "(null)");              \
        if (want_text) CHECK_CONTAINS(r_.body ? r_.body : "", (want_text));                                       \
        free(r_.body);                                                                                           \
    } while (0)

int main(int argc, char **argv) {
    const char *class_index = argc > 1 ? argv[1] : "imagenet_class_index.json";
    char err[1024];
    inferd_config cfg;
    config_defaults(&cfg);
    free(cfg.class_index_path);
    cfg.class_index_path = strdup(class_index);
    model_options mo;
    model_options_default(&mo);
    served_model *sm = NULL;
    if (!CHECK_MSG(served_model_load(&cfg, &mo, &sm, err, sizeof(err)) == 0, "stub load: %s", err))
        return check_summary();
    model_slot_options so = {.cfg = &cfg, .model_opts = mo, .warmup_max_batch = 1, .warmup_rounds = 1};
    model_slot *slot = NULL;
    CHECK_EQ_INT(model_slot_create(&so, sm, &slot, err, sizeof(err)), 0);

    CHECK(model_control_owns("/v2/repository/index"));
    CHECK(model_control_owns("/v2/repository"));
    CHECK(model_control_owns("/v2/repository/models/x/load"));
    CHECK(!model_control_owns("/v2/repositoryx"));
    CHECK(!model_control_owns("/v2/models/stub/infer"));

    /* Shut by default. */
    model_control off = {.enabled = 0, .token = "", .slot = slot};
    EXPECT(&off, "POST", "/v2/repository/index", NULL, 403, "disabled");
    EXPECT(&off, "POST", "/v2/repository/models/stub/load", NULL, 403, "disabled");
    EXPECT(&off, "POST", "/v2/repository/models/stub/load", "Bearer anything", 403, "disabled");

    /* Open, no token. */
    model_control open = {.enabled = 1, .token = "", .slot = slot};
    model_control_response r = call(&open, "POST", "/v2/repository/index", NULL);
    CHECK_EQ_INT(r.status, 200);
    cJSON *idx = r.body ? cJSON_Parse(r.body) : NULL;
    const cJSON *first = cJSON_GetArrayItem(idx, 0);
    CHECK(cJSON_IsArray(idx) && cJSON_GetArraySize(idx) == 1);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(first, "name")), "stub");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(first, "state")), "READY");
    CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(first, "generation")), 1);
    cJSON_Delete(idx);
    free(r.body);
    EXPECT(&open, "GET", "/v2/repository/index", NULL, 200, "\"name\":\"stub\"");
    EXPECT(&open, "DELETE", "/v2/repository/index", NULL, 405, "POST");
    EXPECT(&open, "POST", "/v2/repository/models/stub/load", NULL, 200, "{}");
    EXPECT(&open, "POST", "/v2/repository/index", NULL, 200, "\"generation\":2");
    EXPECT(&open, "POST", "/v2/repository/index", NULL, 200, "\"reloads\":1");
    EXPECT(&open, "GET", "/v2/repository/models/stub/load", NULL, 405, "POST");
    EXPECT(&open, "POST", "/v2/repository/models/other/load", NULL, 404, "stub");
    EXPECT(&open, "POST", "/v2/repository/models//load", NULL, 404, NULL);
    EXPECT(&open, "POST", "/v2/repository/models/stub", NULL, 404, NULL);
    EXPECT(&open, "POST", "/v2/repository/models/stub/delete", NULL, 404, NULL);
    EXPECT(&open, "POST", "/v2/repository/models/stub/unload", NULL, 400, "not supported");
    EXPECT(&open, "POST", "/v2/repository", NULL, 404, NULL);

    /* A failed reload (the configured labels vanished) answers 400 and the
     * model keeps serving; the index reports the reason. */
    free(cfg.class_index_path);
    cfg.class_index_path = strdup("/nonexistent/inferd/labels.txt");
    EXPECT(&open, "POST", "/v2/repository/models/stub/load", NULL, 400, "/nonexistent/inferd/labels.txt");
    EXPECT(&open, "POST", "/v2/repository/index", NULL, 200, "/nonexistent/inferd/labels.txt");
    EXPECT(&open, "POST", "/v2/repository/index", NULL, 200, "\"failed_reloads\":1");
    EXPECT(&open, "POST", "/v2/repository/index", NULL, 200, "\"generation\":2");
    free(cfg.class_index_path);
    cfg.class_index_path = strdup(class_index);

    /* With a token. */
    model_control locked = {.enabled = 1, .token = "s3cret-token", .slot = slot};
    r = call(&locked, "POST", "/v2/repository/models/stub/load", NULL);
    CHECK_EQ_INT(r.status, 401);
    CHECK(r.www_authenticate && strncmp(r.www_authenticate, "Bearer", 6) == 0);
    free(r.body);
    EXPECT(&locked, "POST", "/v2/repository/index", "Basic czNjcmV0", 401, "Bearer");
    EXPECT(&locked, "POST", "/v2/repository/index", "Bearer wrong", 403, "wrong admin token");
    EXPECT(&locked, "POST", "/v2/repository/index", "Bearer s3cret-toke", 403, NULL);
    EXPECT(&locked, "POST", "/v2/repository/index", "Bearer s3cret-token2", 403, NULL);
    EXPECT(&locked, "POST", "/v2/repository/index", "Bearer ", 403, NULL);
    EXPECT(&locked, "POST", "/v2/repository/index", "Bearer s3cret-token", 200, "stub");
    EXPECT(&locked, "POST", "/v2/repository/models/stub/load", "Bearer s3cret-token", 200, NULL);

    CHECK(model_control_token_equal("abc", "abc"));
    CHECK(!model_control_token_equal("abc", "abd"));
    CHECK(!model_control_token_equal("abc", "ab"));
    CHECK(!model_control_token_equal("abc", "abcd"));
    CHECK(!model_control_token_equal("abc", ""));
    CHECK(model_control_token_equal("", ""));

    model_slot_free(slot);
    config_free(&cfg);
    return check_summary();
}
