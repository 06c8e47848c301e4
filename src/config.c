#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "config.h"

#include <sched.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "model_meta.h"
#include "util.h"

#ifndef INFERD_VERSION
#define INFERD_VERSION "0.1.0"
#endif

/* KEY_SIZE: an integer n or a [h, w] pair (text "n" or "h,w"), stored in
 * an int followed by an int[2] (see resize/resize_hw). */
typedef enum { KEY_STRING, KEY_INT, KEY_INT64, KEY_BOOL, KEY_FLOAT3, KEY_SIZE } key_type;

typedef struct {
    const char *name; /* JSON key; the flag is --name with '_' as '-', the variable INFERD_NAME */
    key_type type;
    size_t offset;
    int64_t min, max; /* for integers */
    const char *choices; /* for strings: "a|b" or NULL for free text */
    const char *help;
} config_key;

#define FIELD(f) offsetof(inferd_config, f)

static const config_key config_keys[] = {
    {"addr", KEY_STRING, FIELD(addr), 0, 0, NULL, "address to listen on (IPv4 or IPv6 literal)"},
    {"port", KEY_INT, FIELD(port), 0, 65535, NULL, "TCP port (0 picks a free one)"},
    {"http_threads", KEY_INT, FIELD(http_threads), 0, 256, NULL, "libmicrohttpd threads, and as many decoder threads (0 = online CPUs)"},
    {"http_nice", KEY_INT, FIELD(http_nice), 0, 19, NULL,
     "niceness added to the libmicrohttpd threads, so that under overload the 503s of clients that retry at once "
     "do not take the CPU from the model workers"},
    {"decode_nice", KEY_INT, FIELD(decode_nice), 0, 19, NULL,
     "niceness added to the decoder threads (decode + preprocess), so that under overload the model keeps the CPU"},
    {"max_connections", KEY_INT, FIELD(max_connections), 1, 100000, NULL, "concurrent connections accepted"},
    {"connection_timeout_s", KEY_INT, FIELD(connection_timeout_s), 1, 3600, NULL,
     "idle/read timeout of a connection, seconds"},
    {"model", KEY_STRING, FIELD(model_path), 0, 0, NULL, "TorchScript model file"},
    {"model_name", KEY_STRING, FIELD(model_name), 0, 0, NULL,
     "name of the model on the v2 API (/v2/models/NAME); empty = the arch in the model file, else its stem"},
    {"class_index", KEY_STRING, FIELD(class_index_path), 0, 0, NULL, "imagenet_class_index.json"},
    {"threads", KEY_INT, FIELD(threads), 0, 256, NULL,
     "libtorch intra-op threads per model worker (0 = online CPUs / model_instances)"},
    {"lone_request_threads", KEY_INT, FIELD(lone_request_threads), 0, 256, NULL,
     "intra-op threads for a lone request while the other workers are idle, used while measured faster "
     "(0 = online CPUs, except int8: off; no more than threads = off)"},
    {"model_instances", KEY_INT, FIELD(model_instances), 0, 64, NULL,
     "model worker threads sharing the loaded model (0 = online CPUs)"},
    {"precision", KEY_STRING, FIELD(precision), 0, 0, "fp32|bf16|int8",
     "model precision (bf16 needs AVX512-BF16; int8 needs a file exported with --quantize int8)"},
    {"optimize", KEY_BOOL, FIELD(optimize), 0, 1, NULL, "freeze + optimize_for_inference at load"},
    {"warmup", KEY_INT, FIELD(warmup), 0, 100, NULL, "warm-up forwards per batch size before ready"},
    {"max_batch", KEY_INT, FIELD(max_batch), 1, 256, NULL, "largest batch run by the model"},
    {"batch_delay_us", KEY_INT, FIELD(batch_delay_us), 0, 1000000, NULL,
     "how long a forming batch may wait for more requests while the model is busy"},
    {"queue_capacity", KEY_INT, FIELD(queue_capacity), 1, 1000000, NULL,
     "images waiting for the model before new ones get 503"},
    {"request_timeout_ms", KEY_INT, FIELD(request_timeout_ms), 0, 3600000, NULL,
     "longest queue wait before 503 (0 = automatic: twice the time the full queue takes to drain at the "
     "measured forward time, at least 1 s)"},
    {"resize", KEY_SIZE, FIELD(resize), 1, 16384, NULL,
     "Resize(n): the shorter side becomes n; or h,w ([h, w] in JSON) for exactly that size (default: the model "
     "file's)"},
    {"crop", KEY_SIZE, FIELD(crop), 1, 16384, NULL,
     "CenterCrop(n) or h,w, the model input size (default: the model file's)"},
    {"interpolation", KEY_STRING, FIELD(interpolation), 0, 0, "bilinear|bicubic",
     "Resize filter, Pillow-exact (default: the model file's)"},
    {"mean", KEY_FLOAT3, FIELD(mean), 0, 0, NULL, "Normalize mean, three numbers (default: the model file's)"},
    {"std", KEY_FLOAT3, FIELD(std), 0, 0, NULL,
     "Normalize std, three positive numbers (default: the model file's)"},
    {"max_body_bytes", KEY_INT64, FIELD(max_body_bytes), 1, INT64_C(1) << 40, NULL, "largest request body (413 above)"},
    {"max_pixels", KEY_INT64, FIELD(max_pixels), 1, INT64_C(1) << 40, NULL,
     "largest decoded image, width*height (413 above)"},
    {"exif_orientation", KEY_BOOL, FIELD(exif_orientation), 0, 1, NULL,
     "rotate/mirror JPEG, PNG, WebP and TIFF by their EXIF orientation, as PIL.ImageOps.exif_transpose "
     "(off: as PIL's Image.open, which ignores it)"},
    {"max_images", KEY_INT, FIELD(max_images), 1, 1024, NULL, "images in one request"},
    {"drain_timeout_s", KEY_INT, FIELD(drain_timeout_s), 0, 3600, NULL,
     "on SIGTERM, how long in-flight requests may take to finish"},
    {"log_format", KEY_STRING, FIELD(log_format), 0, 0, "plain|json", "access and start-up log format"},
    {"access_log", KEY_BOOL, FIELD(access_log), 0, 1, NULL, "one log line per request on stderr"},
    {"static_dir", KEY_STRING, FIELD(static_dir), 0, 0, NULL,
     "serve index.html from this folder instead of the built-in page (empty = built-in)"},
    {"model_control", KEY_STRING, FIELD(model_control), 0, 0, "none|explicit",
     "reload over HTTP (POST /v2/repository/models/NAME/load): none = off; SIGHUP always reloads"},
    {"admin_token", KEY_STRING, FIELD(admin_token), 0, 0, NULL,
     "model control requires Authorization: Bearer TOKEN (empty = no token)"},
    {"admin_token_file", KEY_STRING, FIELD(admin_token_file), 0, 0, NULL,
     "read admin_token from this file's first line (empty = none)"},
    {"admin_addr", KEY_STRING, FIELD(admin_addr), 0, 0, NULL,
     "serve model control on its own listener at this address, e.g. 127.0.0.1 (empty = the public one)"},
    {"admin_port", KEY_INT, FIELD(admin_port), 0, 65535, NULL, "port of the admin_addr listener (0 = a free one)"},
};

#define CONFIG_KEY_COUNT (sizeof(config_keys) / sizeof(config_keys[0]))

_Static_assert(CONFIG_KEY_COUNT <= sizeof(((inferd_config *)0)->origins), "origins[] too small for the key table");
_Static_assert(FIELD(resize_hw) == FIELD(resize) + sizeof(int) && FIELD(crop_hw) == FIELD(crop) + sizeof(int),
               "a KEY_SIZE int must be followed by its int[2]");

static void mark_origin(inferd_config *cfg, const config_key *k, config_origin origin) {
    cfg->origins[k - config_keys] = (unsigned char)origin;
}

/* The kind of source an origin label (a file path, INFERD_X, --x) names. */
static config_origin origin_kind(const char *origin) {
    if (strncmp(origin, "--", 2) == 0) return CONFIG_FROM_FLAG;
    if (strncmp(origin, "INFERD_", 7) == 0) return CONFIG_FROM_ENV;
    return CONFIG_FROM_FILE;
}

config_origin config_key_origin(const inferd_config *cfg, const char *key) {
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++)
        if (strcmp(config_keys[i].name, key) == 0) return (config_origin)cfg->origins[i];
    return CONFIG_FROM_DEFAULT;
}

const char *config_origin_name(config_origin origin) {
    switch (origin) {
    case CONFIG_FROM_DEFAULT: return "default";
    case CONFIG_FROM_FILE: return "config file";
    case CONFIG_FROM_ENV: return "environment";
    case CONFIG_FROM_FLAG: return "flag";
    }
    return "?";
}

/* Stores n (single) or h, w into a KEY_SIZE slot. */
static int store_size(const config_key *k, inferd_config *cfg, int64_t h, int64_t w, int single, const char *origin,
                      char *err, size_t errlen) {
    if (h < k->min || h > k->max || w < k->min || w > k->max) {
        snprintf(err, errlen, "%s: %s sizes must be in %lld..%lld", origin, k->name, (long long)k->min,
                 (long long)k->max);
        return -1;
    }
    int *slot = (int *)((char *)cfg + k->offset);
    int is_crop = k->offset == FIELD(crop);
    /* resize n means "shorter side"; crop n means n x n. */
    slot[0] = single || (is_crop && h == w) ? (int)h : 0;
    slot[1] = single && !is_crop ? 0 : (int)h;
    slot[2] = single && !is_crop ? 0 : (int)w;
    return 0;
}

static int set_string(char **slot, const char *value) {
    char *copy = util_strdup(value);
    if (!copy) return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

void config_defaults(inferd_config *cfg) {
    memset(cfg, 0, sizeof(*cfg));
    set_string(&cfg->addr, "0.0.0.0");
    cfg->port = 5000;
    cfg->http_threads = 0;
    cfg->http_nice = 19;
    cfg->decode_nice = 10;
    cfg->max_connections = 512;
    cfg->connection_timeout_s = 30;
    set_string(&cfg->model_path, "models/densenet121.pt");
    set_string(&cfg->model_name, "");
    set_string(&cfg->class_index_path, "imagenet_class_index.json");
    cfg->threads = 0;
    cfg->model_instances = 0;
    set_string(&cfg->precision, "fp32");
    cfg->optimize = 1;
    cfg->warmup = 2;
    cfg->max_batch = 2;
    cfg->batch_delay_us = 2000;
    cfg->queue_capacity = 64;
    cfg->request_timeout_ms = 0;
    cfg->resize = 255;
    cfg->crop = 224;
    cfg->crop_hw[0] = cfg->crop_hw[1] = 224;
    set_string(&cfg->interpolation, "bilinear");
    cfg->mean[0] = 0.485, cfg->mean[1] = 0.456, cfg->mean[2] = 0.406;
    cfg->std[0] = 0.229, cfg->std[1] = 0.224, cfg->std[2] = 0.225;
    cfg->max_body_bytes = INT64_C(20) << 20;
    cfg->max_pixels = INT64_C(50000000);
    cfg->max_images = 32;
    cfg->exif_orientation = 0;
    cfg->drain_timeout_s = 10;
    set_string(&cfg->log_format, "plain");
    cfg->access_log = 1;
    set_string(&cfg->static_dir, "");
    set_string(&cfg->model_control, "none");
    set_string(&cfg->admin_token, "");
    set_string(&cfg->admin_token_file, "");
    set_string(&cfg->admin_addr, "");
    cfg->admin_port = 0;
}

void config_free(inferd_config *cfg) {
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        if (config_keys[i].type == KEY_STRING) {
            char **slot = (char **)((char *)cfg + config_keys[i].offset);
            free(*slot);
            *slot = NULL;
        }
    }
}

/* The cgroup v2 CPU quota ("cpu.max": "QUOTA PERIOD", or "max PERIOD"),
 * rounded up to whole CPUs; 0 when there is none. */
static int cgroup_cpu_quota(void) {
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (!f) return 0;
    char quota[32] = "";
    long period = 0;
    int fields = fscanf(f, "%31s %ld", quota, &period);
    fclose(f);
    if (fields != 2 || period <= 0 || strcmp(quota, "max") == 0) return 0;
    long q = strtol(quota, NULL, 10);
    if (q <= 0) return 0;
    long cpus = (q + period - 1) / period;
    return cpus < 4096 ? (int)cpus : 4096;
}

int config_online_cpus(void) {
    /* The CPUs this process may run on (taskset, --cpuset-cpus), capped by a
     * container's CPU quota (docker --cpus, a Kubernetes CPU limit): the
     * model workers and HTTP threads default to this many. */
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) n = CPU_COUNT(&set);
    int quota = cgroup_cpu_quota();
    if (quota > 0 && quota < n) n = quota;
    return n > 0 && n < 4096 ? (int)n : 1;
}

static const config_key *find_key(const char *name) {
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++)
        if (strcmp(config_keys[i].name, name) == 0) return &config_keys[i];
    return NULL;
}

static int check_choice(const config_key *k, const char *value) {
    if (!k->choices) return 0;
    size_t n = strlen(value);
    for (const char *p = k->choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0) return 0;
        if (!bar) break;
        p = bar + 1;
    }
    return -1;
}

static int store_int(const config_key *k, inferd_config *cfg, int64_t v, const char *origin, char *err,
                     size_t errlen) {
    if (v < k->min || v > k->max) {
        snprintf(err, errlen, "%s: %s = %lld is out of range %lld..%lld", origin, k->name, (long long)v,
                 (long long)k->min, (long long)k->max);
        return -1;
    }
    void *slot = (char *)cfg + k->offset;
    if (k->type == KEY_INT64)
        *(int64_t *)slot = v;
    else
        *(int *)slot = (int)v;
    return 0;
}

static int apply_text_value(inferd_config *cfg, const config_key *k, const char *value, const char *origin,
                            char *err, size_t errlen);

/* Text form, used by flags and environment variables (and JSON strings). */
static int apply_text(inferd_config *cfg, const config_key *k, const char *value, const char *origin,
                      char *err, size_t errlen) {
    int rc = apply_text_value(cfg, k, value, origin, err, errlen);
    if (rc == 0) mark_origin(cfg, k, origin_kind(origin));
    return rc;
}

static int apply_text_value(inferd_config *cfg, const config_key *k, const char *value, const char *origin,
                            char *err, size_t errlen) {
    void *slot = (char *)cfg + k->offset;
    switch (k->type) {
    case KEY_SIZE: {
        long long v[2];
        int n = 0;
        const char *p = value;
        for (; n < 2; n++) {
            char *end;
            errno = 0;
            v[n] = strtoll(p, &end, 10);
            if (errno || end == p) goto bad_size;
            p = end;
            while (isspace((unsigned char)*p)) p++;
            if (*p != ',') {
                n++;
                break;
            }
            p++;
        }
        if (*p) goto bad_size;
        return n == 1 ? store_size(k, cfg, v[0], v[0], 1, origin, err, errlen)
                      : store_size(k, cfg, v[0], v[1], 0, origin, err, errlen);
    bad_size:
        snprintf(err, errlen, "%s: %s needs an integer or h,w, not \"%s\"", origin, k->name, value);
        return -1;
    }
    case KEY_STRING:
        if (check_choice(k, value) != 0) {
            snprintf(err, errlen, "%s: %s must be one of %s, not \"%s\"", origin, k->name, k->choices, value);
            return -1;
        }
        return set_string((char **)slot, value);
    case KEY_INT:
    case KEY_INT64: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            snprintf(err, errlen, "%s: %s needs an integer, not \"%s\"", origin, k->name, value);
            return -1;
        }
        return store_int(k, cfg, v, origin, err, errlen);
    }
    case KEY_BOOL:
        if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "yes") || !strcmp(value, "on")) {
            *(int *)slot = 1;
        } else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "no") ||
                   !strcmp(value, "off")) {
            *(int *)slot = 0;
        } else {
            snprintf(err, errlen, "%s: %s needs true or false, not \"%s\"", origin, k->name, value);
            return -1;
        }
        return 0;
    case KEY_FLOAT3: {
        double v[3];
        const char *p = value;
        for (int i = 0; i < 3; i++) {
            char *end;
            errno = 0;
            v[i] = strtod(p, &end);
            if (errno || end == p || !isfinite(v[i])) goto bad_float3;
            p = end;
            while (isspace((unsigned char)*p)) p++;
            if (i < 2) {
                if (*p != ',') goto bad_float3;
                p++;
            }
        }
        if (*p) goto bad_float3;
        memcpy(slot, v, sizeof(v));
        return 0;
    bad_float3:
        snprintf(err, errlen, "%s: %s needs three comma-separated numbers, not \"%s\"", origin, k->name, value);
        return -1;
    }
    }
    return -1;
}

static int apply_json_typed(inferd_config *cfg, const config_key *k, const cJSON *v, const char *origin,
                            char *err, size_t errlen);

static int apply_json_value(inferd_config *cfg, const config_key *k, const cJSON *v, const char *origin,
                            char *err, size_t errlen) {
    int rc = apply_json_typed(cfg, k, v, origin, err, errlen);
    if (rc == 0) mark_origin(cfg, k, CONFIG_FROM_FILE);
    return rc;
}

static int json_whole_number(const cJSON *v, int64_t *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (d != floor(d) || fabs(d) > 9e15) return -1;
    *out = (int64_t)d;
    return 0;
}

static int apply_json_typed(inferd_config *cfg, const config_key *k, const cJSON *v, const char *origin,
                            char *err, size_t errlen) {
    void *slot = (char *)cfg + k->offset;
    switch (k->type) {
    case KEY_SIZE: {
        int64_t h, w;
        if (cJSON_IsArray(v)) {
            int n = cJSON_GetArraySize(v);
            if (n == 1 && json_whole_number(cJSON_GetArrayItem(v, 0), &h) == 0) /* torchvision's [n] */
                return store_size(k, cfg, h, h, 1, origin, err, errlen);
            if (n == 2 && json_whole_number(cJSON_GetArrayItem(v, 0), &h) == 0 &&
                json_whole_number(cJSON_GetArrayItem(v, 1), &w) == 0)
                return store_size(k, cfg, h, w, 0, origin, err, errlen);
            break;
        }
        if (json_whole_number(v, &h) != 0) break;
        return store_size(k, cfg, h, h, 1, origin, err, errlen);
    }
    case KEY_STRING:
        if (!cJSON_IsString(v)) break;
        return apply_text(cfg, k, v->valuestring, origin, err, errlen);
    case KEY_INT:
    case KEY_INT64: {
        if (!cJSON_IsNumber(v)) break;
        double d = v->valuedouble;
        if (d != floor(d) || fabs(d) > 9e15) break;
        return store_int(k, cfg, (int64_t)d, origin, err, errlen);
    }
    case KEY_BOOL:
        if (!cJSON_IsBool(v)) break;
        *(int *)slot = cJSON_IsTrue(v);
        return 0;
    case KEY_FLOAT3: {
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 3) break;
        double vals[3];
        for (int i = 0; i < 3; i++) {
            const cJSON *e = cJSON_GetArrayItem(v, i);
            if (!cJSON_IsNumber(e)) goto wrong_type;
            vals[i] = e->valuedouble;
        }
        memcpy(slot, vals, sizeof(vals));
        return 0;
    }
    }
wrong_type:;
    static const char *const type_names[] = {"a string", "an integer", "an integer", "true or false",
                                             "an array of three numbers", "an integer or [h, w]"};
    snprintf(err, errlen, "%s: \"%s\" must be %s", origin, k->name, type_names[k->type]);
    return -1;
}

int config_apply_json(inferd_config *cfg, const char *json, size_t len, const char *origin, char *err,
                      size_t errlen) {
    cJSON *root = util_parse_json_document(json, len);
    if (!root) {
        snprintf(err, errlen, "%s: not valid JSON (or text after the JSON object)", origin);
        return -1;
    }
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "%s: must be a JSON object", origin);
        cJSON_Delete(root);
        return -1;
    }
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        const config_key *k = find_key(item->string);
        if (!k) {
            snprintf(err, errlen, "%s: unknown key \"%s\" (see --help for the keys)", origin, item->string);
            cJSON_Delete(root);
            return -1;
        }
        if (apply_json_value(cfg, k, item, origin, err, errlen) != 0) {
            cJSON_Delete(root);
            return -1;
        }
    }
    cJSON_Delete(root);
    return 0;
}

int config_validate(const inferd_config *cfg, char *err, size_t errlen) {
    for (int c = 0; c < 3; c++) {
        if (!(cfg->std[c] > 0)) {
            snprintf(err, errlen, "std values must be positive");
            return -1;
        }
    }
    if (cfg->resize > 0 && cfg->crop > 0 && cfg->crop > cfg->resize * 4) {
        snprintf(err, errlen, "crop %d is implausibly larger than resize %d", cfg->crop, cfg->resize);
        return -1;
    }
    if (!*cfg->model_path) {
        snprintf(err, errlen, "model path is empty");
        return -1;
    }
    if (*cfg->model_name && !model_meta_valid_name(cfg->model_name)) {
        snprintf(err, errlen, "model_name \"%s\" must be 1-63 characters of A-Z a-z 0-9 _ . - (a URL path segment)",
                 cfg->model_name);
        return -1;
    }
    if (!*cfg->addr) {
        snprintf(err, errlen, "addr is empty");
        return -1;
    }
    return 0;
}

static void flag_name(const char *key, char *out, size_t outlen) {
    size_t i = 0;
    for (; key[i] && i + 1 < outlen; i++) out[i] = key[i] == '_' ? '-' : key[i];
    out[i] = '\0';
}

static void env_name(const char *key, char *out, size_t outlen) {
    int n = snprintf(out, outlen, "INFERD_");
    size_t i = 0;
    for (; key[i] && (size_t)n + i + 1 < outlen; i++) out[n + i] = (char)toupper((unsigned char)key[i]);
    out[n + i] = '\0';
}

void config_print_help(FILE *out, const char *program) {
    inferd_config d;
    config_defaults(&d);
    fprintf(out,
            "Usage: %s [--config FILE] [--KEY VALUE ...]\n"
            "inferd %s: an HTTP image-classification server (TorchScript DenseNet-121).\n\n"
            "  --config FILE     JSON settings (default ./config.json when it exists)\n"
            "  --check-config    validate the settings, print them, and exit\n"
            "  --version         print the version and exit\n"
            "  --help            this text\n\n"
            "Settings (precedence: --flag > INFERD_* environment > config file > default):\n",
            program, INFERD_VERSION);
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        const config_key *k = &config_keys[i];
        char flag[64], env[80], def[128];
        flag_name(k->name, flag, sizeof(flag));
        env_name(k->name, env, sizeof(env));
        void *slot = (char *)&d + k->offset;
        switch (k->type) {
        case KEY_STRING: snprintf(def, sizeof(def), "\"%s\"", *(char **)slot); break;
        case KEY_INT: snprintf(def, sizeof(def), "%d", *(int *)slot); break;
        case KEY_INT64: snprintf(def, sizeof(def), "%lld", (long long)*(int64_t *)slot); break;
        case KEY_BOOL: snprintf(def, sizeof(def), "%s", *(int *)slot ? "true" : "false"); break;
        case KEY_FLOAT3: {
            double *v = slot;
            snprintf(def, sizeof(def), "%g,%g,%g", v[0], v[1], v[2]);
            break;
        }
        case KEY_SIZE: snprintf(def, sizeof(def), "%d", *(int *)slot); break;
        }
        fprintf(out, "  --%-22s %-30s %s%s%s (default %s)\n", flag, env, k->help, k->choices ? ": " : "",
                k->choices ? k->choices : "", def);
    }
    config_free(&d);
}

static void print_config(FILE *out, const inferd_config *cfg) {
    cJSON *root = cJSON_CreateObject();
    for (size_t i = 0; i < CONFIG_KEY_COUNT && root; i++) {
        const config_key *k = &config_keys[i];
        const void *slot = (const char *)cfg + k->offset;
        switch (k->type) {
        case KEY_STRING: {
            const char *v = *(char *const *)slot;
            /* a secret is never printed, only whether it is set */
            if (k->offset == FIELD(admin_token) && *v) v = "(set)";
            cJSON_AddStringToObject(root, k->name, v);
            break;
        }
        case KEY_INT: cJSON_AddNumberToObject(root, k->name, *(const int *)slot); break;
        case KEY_INT64: cJSON_AddNumberToObject(root, k->name, (double)*(const int64_t *)slot); break;
        case KEY_BOOL: cJSON_AddBoolToObject(root, k->name, *(const int *)slot); break;
        case KEY_FLOAT3: cJSON_AddItemToObject(root, k->name, cJSON_CreateDoubleArray(slot, 3)); break;
        case KEY_SIZE: {
            const int *v = slot;
            if (v[0] > 0 && (k->offset == FIELD(resize) || (v[1] == v[0] && v[2] == v[0])))
                cJSON_AddNumberToObject(root, k->name, v[0]);
            else
                cJSON_AddItemToObject(root, k->name, cJSON_CreateIntArray(v + 1, 2));
            break;
        }
        }
    }
    char *text = root ? cJSON_Print(root) : NULL;
    if (text) fprintf(out, "%s\n", text);
    cJSON_free(text);
    cJSON_Delete(root);
}

/* Matches "--name" or "--name=value" against the key table. */
static const config_key *match_flag(const char *arg, const char **inline_value) {
    *inline_value = NULL;
    if (strncmp(arg, "--", 2) != 0) return NULL;
    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        char flag[64];
        flag_name(config_keys[i].name, flag, sizeof(flag));
        size_t n = strlen(flag);
        if (strncmp(arg + 2, flag, n) == 0 && (arg[2 + n] == '\0' || arg[2 + n] == '=')) {
            if (arg[2 + n] == '=') *inline_value = arg + 3 + n;
            return &config_keys[i];
        }
    }
    return NULL;
}

config_action config_load(inferd_config *cfg, int argc, char **argv, FILE *out, char *err, size_t errlen) {
    config_defaults(cfg);
    const char *config_path = NULL;
    int check_only = 0;

    /* First pass: the meta flags and the config file's path. */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            config_print_help(out, argv[0]);
            return CONFIG_EXIT_OK;
        }
        if (!strcmp(a, "--version")) {
            fprintf(out, "inferd %s\n", INFERD_VERSION);
            return CONFIG_EXIT_OK;
        }
        if (!strcmp(a, "--check-config")) {
            check_only = 1;
        } else if (!strcmp(a, "--config")) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--config needs a file");
                return CONFIG_EXIT_ERROR;
            }
            config_path = argv[++i];
        } else if (!strncmp(a, "--config=", 9)) {
            config_path = a + 9;
        } else {
            const char *inline_value;
            const config_key *k = match_flag(a, &inline_value);
            if (!k) {
                snprintf(err, errlen, "unknown option \"%s\" (see --help)", a);
                return CONFIG_EXIT_ERROR;
            }
            if (!inline_value) {
                if (i + 1 >= argc) {
                    snprintf(err, errlen, "%s needs a value", a);
                    return CONFIG_EXIT_ERROR;
                }
                i++;
            }
        }
    }
    const char *env_config = getenv("INFERD_CONFIG");
    if (!config_path && env_config && *env_config) config_path = env_config;

    /* The file: an explicit path must exist; ./config.json is optional. */
    const char *file = config_path ? config_path : "config.json";
    if (config_path || access(file, F_OK) == 0) {
        char *text;
        size_t len;
        char why[256];
        if (util_read_file(file, 1u << 20, &text, &len, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "config file %s: %s", file, why);
            return CONFIG_EXIT_ERROR;
        }
        int rc = config_apply_json(cfg, text, len, file, err, errlen);
        free(text);
        if (rc != 0) return CONFIG_EXIT_ERROR;
    }

    for (size_t i = 0; i < CONFIG_KEY_COUNT; i++) {
        char env[80];
        env_name(config_keys[i].name, env, sizeof(env));
        const char *value = getenv(env);
        if (value && apply_text(cfg, &config_keys[i], value, env, err, errlen) != 0) return CONFIG_EXIT_ERROR;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--check-config")) continue;
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--config=", 9)) continue;
        const char *inline_value;
        const config_key *k = match_flag(a, &inline_value);
        const char *value = inline_value ? inline_value : argv[++i];
        char flag[64], origin[80];
        flag_name(k->name, flag, sizeof(flag));
        snprintf(origin, sizeof(origin), "--%s", flag);
        if (apply_text(cfg, k, value, origin, err, errlen) != 0) return CONFIG_EXIT_ERROR;
    }

    if (!*cfg->admin_token && *cfg->admin_token_file) {
        char *text;
        size_t len;
        char why[256];
        if (util_read_file(cfg->admin_token_file, 4096, &text, &len, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "admin_token_file %s: %s", cfg->admin_token_file, why);
            return CONFIG_EXIT_ERROR;
        }
        text[strcspn(text, "\r\n")] = '\0';
        int rc = set_string(&cfg->admin_token, text);
        free(text);
        if (rc != 0 || !*cfg->admin_token) {
            snprintf(err, errlen, "admin_token_file %s: empty first line", cfg->admin_token_file);
            return CONFIG_EXIT_ERROR;
        }
    }
    if (config_validate(cfg, err, errlen) != 0) return CONFIG_EXIT_ERROR;
    if (check_only) {
        print_config(out, cfg);
        return CONFIG_EXIT_OK;
    }
    return CONFIG_RUN;
}
