#include "model_meta.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

static void copy_string(const cJSON *root, const char *key, char *out, size_t outlen, const char *fallback) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    snprintf(out, outlen, "%s", cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : fallback);
}

static int whole_number(const cJSON *v, int lo, int hi, int *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (d != floor(d) || d < lo || d > hi) return -1;
    *out = (int)d;
    return 0;
}

/* n, [n] (shorter side / square) or [h, w]. *single is 1 for the first two. */
static int parse_size(const cJSON *v, int *h, int *w, int *single) {
    if (cJSON_IsArray(v)) {
        int n = cJSON_GetArraySize(v);
        if (n == 1 && whole_number(cJSON_GetArrayItem(v, 0), 1, 16384, h) == 0) {
            *w = *h;
            *single = 1;
            return 0;
        }
        if (n == 2 && whole_number(cJSON_GetArrayItem(v, 0), 1, 16384, h) == 0 &&
            whole_number(cJSON_GetArrayItem(v, 1), 1, 16384, w) == 0) {
            *single = 0;
            return 0;
        }
        return -1;
    }
    if (whole_number(v, 1, 16384, h) != 0) return -1;
    *w = *h;
    *single = 1;
    return 0;
}

static int parse_float3(const cJSON *v, float out[3], int positive) {
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3) return -1;
    for (int c = 0; c < 3; c++) {
        const cJSON *e = cJSON_GetArrayItem(v, c);
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || (positive && !(e->valuedouble > 0))) return -1;
        out[c] = (float)e->valuedouble;
    }
    return 0;
}

static int parse_preprocess(const cJSON *pre, model_meta *out, char *err, size_t errlen) {
    preprocess_config *pc = &out->preprocess;
    const cJSON *v;
    int h, w, single;
    if ((v = cJSON_GetObjectItemCaseSensitive(pre, "resize"))) {
        if (parse_size(v, &h, &w, &single) != 0) {
            snprintf(err, errlen, "model metadata: preprocess.resize must be n or [h, w] in 1..16384");
            return -1;
        }
        pc->resize_short = single ? h : 0;
        pc->resize_height = single ? 0 : h;
        pc->resize_width = single ? 0 : w;
        out->has_resize = 1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(pre, "crop"))) {
        if (parse_size(v, &h, &w, &single) != 0) {
            snprintf(err, errlen, "model metadata: preprocess.crop must be n or [h, w] in 1..16384");
            return -1;
        }
        pc->crop_height = h;
        pc->crop_width = w;
        out->has_crop = 1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(pre, "interpolation"))) {
        if (!cJSON_IsString(v) || preprocess_interpolation_parse(v->valuestring, &pc->interpolation) != 0) {
            snprintf(err, errlen, "model metadata: preprocess.interpolation must be \"bilinear\" or \"bicubic\"");
            return -1;
        }
        out->has_interpolation = 1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(pre, "mean"))) {
        if (parse_float3(v, pc->mean, 0) != 0) {
            snprintf(err, errlen, "model metadata: preprocess.mean must be three numbers");
            return -1;
        }
        out->has_mean = 1;
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(pre, "std"))) {
        if (parse_float3(v, pc->std, 1) != 0) {
            snprintf(err, errlen, "model metadata: preprocess.std must be three positive numbers");
            return -1;
        }
        out->has_std = 1;
    }
    return 0;
}

int model_meta_parse(const char *json, model_meta *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    out->seed = -1;
    preprocess_config_default(&out->preprocess);
    cJSON *root = json && *json ? cJSON_Parse(json) : NULL;
    copy_string(root, "arch", out->arch, sizeof(out->arch), "unknown");
    copy_string(root, "name", out->name, sizeof(out->name), out->arch);
    copy_string(root, "weights", out->weights, sizeof(out->weights), "unknown");
    copy_string(root, "torch_version", out->torch_version, sizeof(out->torch_version), "unknown");
    if (strcmp(out->weights, "pretrained") != 0 && strcmp(out->weights, "seeded") != 0 &&
        strcmp(out->weights, "user") != 0)
        snprintf(out->weights, sizeof(out->weights), "unknown");
    /* seed and input_size are informational: an out-of-range value is
     * dropped (converting it to an integer would be undefined), not fatal. */
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (cJSON_IsNumber(seed) && seed->valuedouble >= 0 && seed->valuedouble <= 9007199254740992.0 &&
        seed->valuedouble == floor(seed->valuedouble))
        out->seed = (long long)seed->valuedouble;
    const cJSON *size = cJSON_GetObjectItemCaseSensitive(root, "input_size");
    if (whole_number(size, 1, 16384, &out->input_size) != 0) out->input_size = 0;
    int rc = 0;
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(root, "num_classes");
    if (classes && whole_number(classes, 1, 1 << 24, &out->num_classes) != 0) {
        snprintf(err, errlen, "model metadata: num_classes must be a positive integer");
        rc = -1;
    }
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "preprocess");
    if (rc == 0 && pre) {
        if (!cJSON_IsObject(pre)) {
            snprintf(err, errlen, "model metadata: preprocess must be an object");
            rc = -1;
        } else {
            rc = parse_preprocess(pre, out, err, errlen);
        }
    }
    cJSON_Delete(root);
    return rc;
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
    } else if (!strcmp(meta->weights, "user")) {
        snprintf(out, (size_t)outlen, "%s: the user's own model \"%s\" (exported with torch %s)", meta->arch,
                 meta->name, meta->torch_version);
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
    /* The name the file states, else its architecture, else the file's stem. */
    if (strcmp(meta->name, "unknown") != 0 && model_meta_valid_name(meta->name)) {
        snprintf(out, outlen, "%s", meta->name);
        return;
    }
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

/* Where a value in force came from, for the start-up log. */
static const char *source_of(const inferd_config *cfg, const char *key, int in_file) {
    config_origin o = config_key_origin(cfg, key);
    if (o != CONFIG_FROM_DEFAULT) return config_origin_name(o);
    return in_file ? "model file" : "default";
}

static int use_config(const inferd_config *cfg, const char *key, int in_file) {
    return config_key_origin(cfg, key) != CONFIG_FROM_DEFAULT || !in_file;
}

int model_meta_resolve(const model_meta *meta, const inferd_config *cfg, preprocess_config *out, char *sources,
                       size_t sources_len, char *err, size_t errlen) {
    preprocess_config_default(out);
    const preprocess_config *file = &meta->preprocess;
    if (use_config(cfg, "resize", meta->has_resize)) {
        out->resize_short = cfg->resize;
        out->resize_height = cfg->resize > 0 ? 0 : cfg->resize_hw[0];
        out->resize_width = cfg->resize > 0 ? 0 : cfg->resize_hw[1];
    } else {
        out->resize_short = file->resize_short;
        out->resize_height = file->resize_height;
        out->resize_width = file->resize_width;
    }
    if (use_config(cfg, "crop", meta->has_crop)) {
        out->crop_height = cfg->crop_hw[0];
        out->crop_width = cfg->crop_hw[1];
    } else {
        out->crop_height = file->crop_height;
        out->crop_width = file->crop_width;
    }
    if (use_config(cfg, "interpolation", meta->has_interpolation)) {
        if (preprocess_interpolation_parse(cfg->interpolation, &out->interpolation) != 0) {
            snprintf(err, errlen, "interpolation \"%s\" is not bilinear or bicubic", cfg->interpolation);
            return -1;
        }
    } else {
        out->interpolation = file->interpolation;
    }
    for (int c = 0; c < 3; c++) {
        out->mean[c] = use_config(cfg, "mean", meta->has_mean) ? (float)cfg->mean[c] : file->mean[c];
        out->std[c] = use_config(cfg, "std", meta->has_std) ? (float)cfg->std[c] : file->std[c];
    }
    char resize[48];
    if (out->resize_short > 0)
        snprintf(resize, sizeof(resize), "%d", out->resize_short);
    else
        snprintf(resize, sizeof(resize), "[%d, %d]", out->resize_height, out->resize_width);
    snprintf(sources, sources_len,
             "resize %s (%s), crop %dx%d (%s), interpolation %s (%s), mean %.4g,%.4g,%.4g (%s), "
             "std %.4g,%.4g,%.4g (%s)",
             resize, source_of(cfg, "resize", meta->has_resize), out->crop_width, out->crop_height,
             source_of(cfg, "crop", meta->has_crop), preprocess_interpolation_name(out->interpolation),
             source_of(cfg, "interpolation", meta->has_interpolation), out->mean[0], out->mean[1], out->mean[2],
             source_of(cfg, "mean", meta->has_mean), out->std[0], out->std[1], out->std[2],
             source_of(cfg, "std", meta->has_std));
    for (int c = 0; c < 3; c++) {
        if (!(out->std[c] > 0.0f)) {
            snprintf(err, errlen, "std must be positive");
            return -1;
        }
    }
    return 0;
}
