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

static int name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
}

int model_meta_valid_name(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 63 || !strcmp(name, ".") || !strcmp(name, "..")) return 0;
    for (size_t i = 0; i < n; i++)
        if (!name_char(name[i])) return 0;
    return 1;
}

void model_meta_default_name(const model_meta *meta, const char *model_path, char *out, size_t outlen) {
    if (outlen == 0) return;
    if (strcmp(meta->arch, "unknown") != 0 && model_meta_valid_name(meta->arch)) {
        snprintf(out, outlen, "%s", meta->arch);
        return;
    }
    const char *base = strrchr(model_path, '/');
    base = base ? base + 1 : model_path;
    size_t n = strcspn(base, ".");
    if (n == 0) n = strlen(base);
    if (n > 63) n = 63;
    if (n + 1 > outlen) n = outlen - 1;
    for (size_t i = 0; i < n; i++) out[i] = name_char(base[i]) ? base[i] : '_';
    out[n] = '\0';
    if (!model_meta_valid_name(out)) snprintf(out, outlen, "model");
}
