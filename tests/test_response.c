/* test_response: response.h — the JSON bodies, parsed back with cJSON: the
 * original API's object, top-k, escaping of hostile strings, and the array
 * for several images (every size up to 64 entries, results and per-image
 * errors mixed, error messages of every length up to 300 bytes), which must
 * always be one complete, valid JSON document. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "check.h"
#include "response.h"
#include "util.h"

static const char INDEX[] = "{\"0\":[\"n0\",\"zero\"],\"1\":[\"n1\",\"one\\\"quoted\\\\\"],\"2\":[\"n2\",\"two\"]}";

static void test_single(const labels *l) {
    float logits[3] = {0.1f, 3.0f, -1.0f};
    char *body = response_result_json(l, logits, 3, 0);
    cJSON *root = body ? cJSON_Parse(body) : NULL;
    if (CHECK(root != NULL)) {
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(root, "class_id")), "n1");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(root, "class_name")), "one\"quoted\\");
        CHECK(cJSON_GetObjectItem(root, "predictions") == NULL);
    }
    cJSON_Delete(root);
    free(body);

    body = response_result_json(l, logits, 3, 2);
    root = body ? cJSON_Parse(body) : NULL;
    cJSON *preds = cJSON_GetObjectItem(root, "predictions");
    if (CHECK(cJSON_GetArraySize(preds) == 2)) {
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(preds, 1), "class_id")), "n0");
        double p0 = cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(preds, 0), "probability"));
        CHECK(p0 > 0.9 && p0 < 1.0);
    }
    cJSON_Delete(root);
    free(body);
}

static void test_several(const labels *l) {
    static const float logits[3][3] = {{5, 0, 0}, {0, 5, 0}, {0, 0, 5}};
    char message[301];
    response_item items[64];
    for (int count = 1; count <= 64; count++) {
        for (int topk = 0; topk <= 3; topk += 3) {
            for (int i = 0; i < count; i++) {
                /* every third image failed, with a message of a varying length */
                int len = (count * 7 + i * 13) % 300;
                memset(message, 'a' + i % 26, (size_t)len);
                message[len] = '\0';
                if (len > 2) message[len / 2] = '"';
                items[i] = i % 3 == 2 ? (response_item){NULL, 400 + i % 16, util_strdup(message)}
                                      : (response_item){logits[i % 3], 200, NULL};
            }
            char *body = response_results_json(l, items, count, 3, topk);
            cJSON *root = body ? cJSON_ParseWithLength(body, strlen(body)) : NULL;
            int ok = root && cJSON_IsArray(root) && cJSON_GetArraySize(root) == count;
            for (int i = 0; ok && i < count; i++) {
                cJSON *e = cJSON_GetArrayItem(root, i);
                if (i % 3 == 2) {
                    ok = cJSON_GetNumberValue(cJSON_GetObjectItem(e, "status")) == 400 + i % 16 &&
                         strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "error")), items[i].error) == 0;
                } else {
                    char want[4];
                    snprintf(want, sizeof(want), "n%d", i % 3);
                    ok = strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "class_id")), want) == 0 &&
                         (topk == 0) == (cJSON_GetObjectItem(e, "predictions") == NULL);
                }
            }
            CHECK_MSG(ok, "%d images, topk %d: not the expected array: %.200s", count, topk, body ? body : "(null)");
            cJSON_Delete(root);
            free(body);
            for (int i = 0; i < count; i++)
                if (i % 3 == 2) free((char *)items[i].error);
        }
    }
}

int main(void) {
    labels *l = NULL;
    char err[256];
    if (!CHECK(labels_parse(INDEX, strlen(INDEX), &l, err, sizeof(err)) == 0)) return check_summary();
    test_single(l);
    test_several(l);
    labels_free(l);
    return check_summary();
}
