#include "model_meta.h"

#include <stdio.h>
#include <string.h>

#include <cJSON.h>

static void copy_string(const cJSON *root, const char *key, char *out, size_t outlen, const char *fallback) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    snprintf(out, outlen, "%s", cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : fallback);
}

void model_meta_parse(const char *json, model_meta *out) {
    memset(out, 0, sizeof(*out));
    out->seed = -1;
    cJSON *root = json && *json ? cJSON_Parse(json) : NULL;
    copy_string(root, "arch", out->arch, sizeof(out->arch), "unknown");
    copy_string(root, "weights", out->weights, sizeof(out->weights), "unknown");
    copy_string(root, "torch_version", out->torch_version, sizeof(out->torch_version), "unknown");
    if (strcmp(out->weights, "pretrained") != 0 && strcmp(out->weights, "seeded") != 0)
        snprintf(out->weights, sizeof(out->weights), "unknown");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (cJSON_IsNumber(seed)) out->seed = (long long)seed->valuedouble;
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(root, "input_size");
    if (cJSON_IsNumber(size)) out->input_size = (int)size->valuedouble;
    cJSON_Delete(root);
}

void model_meta_describe(const model_meta *meta, char *out, int outlen) {
    if (!strcmp(meta->weights, "pretrained")) {
        snprintf(out, (size_t)outlen, "%s with pretrained ImageNet weights (exported with torch %s)", meta->arch,
                 meta->torch_version);
    } else if (!strcmp(meta->weights, "seeded")) {
        snprintf(out, (size_t)outlen,
                 "%s with SEEDED TEST WEIGHTS (seed %lld): predictions are deterministic but NOT real ImageNet "
                 "classifications",
                 meta->arch, meta->seed);
    } else {
        snprintf(out, (size_t)outlen,
                 "model of unknown provenance (no inferd metadata): do not trust its labels until checked");
    }
}
