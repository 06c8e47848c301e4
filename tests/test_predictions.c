/* test_predictions: predictions.h (argmax, top-k, softmax) and response.h
 * (the JSON bodies: the original API's exact result object, "predictions"
 * for top-k, escaped error messages). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "check.h"
#include "labels.h"
#include "predictions.h"
#include "response.h"

static void test_argmax(void) {
    const float a[] = {0.1f, 3.0f, -2.0f, 3.0f, 2.9f};
    CHECK_EQ_INT(predictions_argmax(a, 5), 1); /* first of the tied maxima */
    const float b[] = {-5.0f, -1.0f, -1.0f};
    CHECK_EQ_INT(predictions_argmax(b, 3), 1);
    const float c[] = {7.0f};
    CHECK_EQ_INT(predictions_argmax(c, 1), 0);
    const float d[] = {1.0f, 1.0f, 1.0f, 1.0f};
    CHECK_EQ_INT(predictions_argmax(d, 4), 0);
    const float e[] = {-FLT_MAX, -INFINITY, -FLT_MAX, 0.0f};
    CHECK_EQ_INT(predictions_argmax(e, 4), 3);
    const float f[] = {1.0f, 2.0f, 3.0f, 4.0f};
    CHECK_EQ_INT(predictions_argmax(f, 4), 3); /* the last element counts */
    CHECK_EQ_INT(predictions_argmax(f, 3), 2); /* count is honoured */
}

static void test_topk(void) {
    prediction out[16];
    const float logits[] = {1.0f, 2.0f, 3.0f};
    /* Softmax of [1, 2, 3]. */
    double denom = exp(1.0) + exp(2.0) + exp(3.0);
    CHECK_EQ_INT(predictions_topk(logits, 3, 3, out), 3);
    CHECK_EQ_INT(out[0].index, 2);
    CHECK_EQ_INT(out[1].index, 1);
    CHECK_EQ_INT(out[2].index, 0);
    CHECK_EQ_FLOAT(out[0].logit, 3.0f);
    CHECK_NEAR(out[0].probability, exp(3.0) / denom, 1e-12);
    CHECK_NEAR(out[1].probability, exp(2.0) / denom, 1e-12);
    CHECK_NEAR(out[2].probability, exp(1.0) / denom, 1e-12);
    CHECK_NEAR(out[0].probability, 0.6652409557748219, 1e-12);

    /* k > count is clipped; k <= 0 writes nothing. */
    out[3].index = -99;
    CHECK_EQ_INT(predictions_topk(logits, 3, 10, out), 3);
    CHECK_EQ_INT(out[3].index, -99);
    CHECK_EQ_INT(predictions_topk(logits, 3, 0, out), 0);
    CHECK_EQ_INT(predictions_topk(logits, 3, -1, out), 0);
    CHECK_EQ_INT(predictions_topk(logits, 3, 1, out), 1);
    CHECK_EQ_INT(out[0].index, 2);

    /* Ties: lower index first, however they arrive. */
    const float ties[] = {0.5f, 2.0f, 1.0f, 2.0f, 1.0f, 2.0f, -3.0f};
    CHECK_EQ_INT(predictions_topk(ties, 7, 5, out), 5);
    static const int want[5] = {1, 3, 5, 2, 4};
    int ok = 1;
    for (int i = 0; i < 5; i++) ok &= out[i].index == want[i];
    CHECK_MSG(ok, "ties order: %d %d %d %d %d", out[0].index, out[1].index, out[2].index, out[3].index, out[4].index);
    CHECK_EQ_FLOAT(out[0].probability, out[1].probability);
    /* A tie at the cut-off keeps the lower index. */
    CHECK_EQ_INT(predictions_topk(ties, 7, 2, out), 2);
    CHECK(out[0].index == 1 && out[1].index == 3);
    CHECK_EQ_INT(predictions_topk(ties, 7, 4, out), 4);
    CHECK_EQ_INT(out[3].index, 2);

    /* Large logits: no overflow in the softmax. */
    const float big[] = {1000.0f, 999.0f, -1000.0f};
    CHECK_EQ_INT(predictions_topk(big, 3, 3, out), 3);
    CHECK_NEAR(out[0].probability, 1.0 / (1.0 + exp(-1.0)), 1e-12);
    CHECK_NEAR(out[1].probability, exp(-1.0) / (1.0 + exp(-1.0)), 1e-12);
    CHECK(out[2].probability >= 0.0 && out[2].probability < 1e-300);
    CHECK(isfinite(out[0].probability));
}

static void test_topk_1000(void) {
    enum { N = 1000 };
    float logits[N];
    unsigned s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 1103515245u + 12345u;
        logits[i] = (float)((int)((s >> 8) % 20001) - 10000) / 1000.0f; /* -10..10, with repeats */
    }
    prediction *all = malloc(sizeof(prediction) * N);
    if (!CHECK_NOT_NULL(all)) return;
    CHECK_EQ_INT(predictions_topk(logits, N, N, all), N);
    double sum = 0.0;
    int sorted = 1, seen_ok = 1;
    char *seen = calloc(N, 1);
    for (int i = 0; i < N; i++) {
        sum += all[i].probability;
        if (all[i].index < 0 || all[i].index >= N || seen[all[i].index]) seen_ok = 0;
        else seen[all[i].index] = 1;
        if (all[i].logit != logits[all[i].index]) sorted = 0;
        if (i > 0 && (all[i - 1].logit < all[i].logit ||
                      (all[i - 1].logit == all[i].logit && all[i - 1].index > all[i].index)))
            sorted = 0;
        if (i > 0 && all[i - 1].probability < all[i].probability) sorted = 0;
    }
    CHECK_MSG(seen_ok, "top-1000 is not a permutation of 0..999");
    CHECK_MSG(sorted, "top-1000 not in descending order with ties by index");
    CHECK_NEAR(sum, 1.0, 1e-9);
    CHECK_EQ_INT(all[0].index, predictions_argmax(logits, N));
    /* top-5 is the prefix of top-1000. */
    prediction five[5];
    CHECK_EQ_INT(predictions_topk(logits, N, 5, five), 5);
    int prefix = 1;
    for (int i = 0; i < 5; i++) prefix &= five[i].index == all[i].index && five[i].probability == all[i].probability;
    CHECK(prefix);
    free(seen);
    free(all);
}

static labels *small_labels(void) {
    const char *json = "{\"0\":[\"n01440764\",\"tench\"],\"1\":[\"n02099601\",\"golden_retriever\"],"
                       "\"2\":[\"n99999999\",\"say \\\"cheese\\\"\"]}";
    labels *l = NULL;
    char err[256];
    if (labels_parse(json, strlen(json), &l, err, sizeof(err)) != 0) {
        fprintf(stderr, "labels_parse: %s\n", err);
        return NULL;
    }
    return l;
}

static void test_result_json(void) {
    labels *l = small_labels();
    if (!CHECK_NOT_NULL(l)) return;
    const float logits[3] = {0.5f, 4.0f, 1.0f};
    char *text = response_result_json(l, logits, 3, 0);
    CHECK_STR(text, "{\"class_id\":\"n02099601\",\"class_name\":\"golden_retriever\"}");
    free(text);

    /* topk: "predictions" in descending probability with ids and names. */
    text = response_result_json(l, logits, 3, 3);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    if (CHECK_MSG(root != NULL, "not JSON: %s", text ? text : "(null)")) {
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "class_id")), "n02099601");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "class_name")), "golden_retriever");
        const cJSON *preds = cJSON_GetObjectItemCaseSensitive(root, "predictions");
        if (CHECK(cJSON_IsArray(preds)) && CHECK_EQ_INT(cJSON_GetArraySize(preds), 3)) {
            static const char *const ids[3] = {"n02099601", "n99999999", "n01440764"};
            static const char *const names[3] = {"golden_retriever", "say \"cheese\"", "tench"};
            double denom = exp(0.5) + exp(4.0) + exp(1.0), sum = 0.0, prev = 2.0;
            static const double raw[3] = {4.0, 1.0, 0.5};
            for (int i = 0; i < 3; i++) {
                const cJSON *p = cJSON_GetArrayItem(preds, i);
                CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "class_id")), ids[i]);
                CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "class_name")), names[i]);
                const cJSON *prob = cJSON_GetObjectItemCaseSensitive(p, "probability");
                if (CHECK(cJSON_IsNumber(prob))) {
                    double v = prob->valuedouble;
                    CHECK(v <= prev);
                    CHECK_NEAR(v, exp(raw[i]) / denom, 1e-9);
                    prev = v;
                    sum += v;
                }
            }
            CHECK_NEAR(sum, 1.0, 1e-9);
        }
    }
    cJSON_Delete(root);
    free(text);

    /* topk 1: a single prediction, the same as the top class. */
    text = response_result_json(l, logits, 3, 1);
    root = text ? cJSON_Parse(text) : NULL;
    if (CHECK_NOT_NULL(root)) {
        const cJSON *preds = cJSON_GetObjectItemCaseSensitive(root, "predictions");
        CHECK_EQ_INT(cJSON_GetArraySize(preds), 1);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(preds, 0), "class_id")),
                  "n02099601");
    }
    cJSON_Delete(root);
    free(text);

    /* topk larger than the class count is clipped. */
    text = response_result_json(l, logits, 3, 10);
    root = text ? cJSON_Parse(text) : NULL;
    if (CHECK_NOT_NULL(root)) CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(root, "predictions")), 3);
    cJSON_Delete(root);
    free(text);

    /* The name with quotes is escaped in the plain object too. */
    const float third[3] = {0.0f, 0.0f, 9.0f};
    text = response_result_json(l, third, 3, 0);
    CHECK_STR(text, "{\"class_id\":\"n99999999\",\"class_name\":\"say \\\"cheese\\\"\"}");
    free(text);
    /* Ties pick the first class, like torch.argmax. */
    const float tied[3] = {2.0f, 2.0f, 2.0f};
    text = response_result_json(l, tied, 3, 0);
    CHECK_STR(text, "{\"class_id\":\"n01440764\",\"class_name\":\"tench\"}");
    free(text);
    labels_free(l);
}

static void test_error_json(void) {
    static const char *const messages[] = {
        "plain message",
        "quote \" and backslash \\ inside",
        "control \n\t\r\b\f\x01\x1f characters",
        "</script><script>alert(1)</script>",
        "utf-8: caf\xc3\xa9 \xe2\x9c\x93",
        "",
    };
    for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
        char *text = response_error_json(messages[i]);
        if (!CHECK_NOT_NULL(text)) continue;
        /* No raw control character may appear in the JSON text. */
        int raw_control = 0;
        for (const char *p = text; *p; p++)
            if ((unsigned char)*p < 0x20) raw_control = 1;
        CHECK_MSG(!raw_control, "raw control character in %s", text);
        cJSON *root = cJSON_Parse(text);
        if (CHECK_MSG(root != NULL, "error JSON does not parse: %s", text)) {
            CHECK(cJSON_IsObject(root));
            CHECK_EQ_INT(cJSON_GetArraySize(root), 1);
            CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "error")), messages[i]);
        }
        cJSON_Delete(root);
        free(text);
    }
    char *text = response_error_json("say \"hi\"");
    CHECK_STR(text, "{\"error\":\"say \\\"hi\\\"\"}");
    free(text);
    text = response_message_json("line1\nline2");
    CHECK_STR(text, "{\"message\":\"line1\\nline2\"}");
    free(text);
}

int main(void) {
    test_argmax();
    test_topk();
    test_topk_1000();
    test_result_json();
    test_error_json();
    return check_summary();
}
