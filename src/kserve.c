#include "kserve.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "base64.h"
#include "predictions.h"
#include "response.h"

/* ---- request ---- */

void kserve_request_free(kserve_request *r) {
    for (int i = 0; i < r->item_count; i++) {
        free(r->items[i].image);
        free(r->items[i].tensor);
    }
    free(r->items);
    memset(r, 0, sizeof(*r));
}

int kserve_parse_header_length(const char *text, size_t *out) {
    if (!text || !*text) return -1;
    size_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9' || v > (SIZE_MAX - 9) / 10) return -1;
        v = v * 10 + (size_t)(*p - '0');
    }
    *out = v;
    return 0;
}

/* The parse's working state: the binary section is consumed in input order. */
typedef struct {
    const kserve_limits *limits;
    const uint8_t *binary;
    size_t binary_len, binary_used;
    int has_binary_section;
    kserve_request *r;
    int item_cap;
    char *err;
    size_t errlen;
} parse_state;

static int fail_input(parse_state *ps, int status, const char *input, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_input(parse_state *ps, int status, const char *input, const char *fmt, ...) {
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (input)
        snprintf(ps->err, ps->errlen, "input \"%s\": %s", input, msg);
    else
        snprintf(ps->err, ps->errlen, "%s", msg);
    return status;
}

/* A JSON number that is an integer in [lo, hi]. */
static int json_int(const cJSON *v, double lo, double hi, long long *out) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi) || d != floor(d)) return -1;
    *out = (long long)d;
    return 0;
}

static kserve_item *add_item(parse_state *ps) {
    kserve_request *r = ps->r;
    if (r->item_count == ps->item_cap) {
        int cap = ps->item_cap ? ps->item_cap * 2 : 4;
        kserve_item *grown = realloc(r->items, sizeof(kserve_item) * (size_t)cap);
        if (!grown) return NULL;
        r->items = grown;
        ps->item_cap = cap;
    }
    kserve_item *item = &r->items[r->item_count++];
    memset(item, 0, sizeof(*item));
    return item;
}

/* The input's slice of the binary section, when it has binary_data_size.
 * Returns 1 with *data and *size set, 0 when the input is JSON, or an HTTP
 * status (negated) with the error filled. */
static int binary_slice(parse_state *ps, const cJSON *input, const char *name, const uint8_t **data, size_t *size) {
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(input, "parameters");
    const cJSON *bds = cJSON_GetObjectItemCaseSensitive(params, "binary_data_size");
    if (!bds) return 0;
    long long n;
    if (json_int(bds, 0, 9007199254740992.0, &n) != 0)
        return -fail_input(ps, 400, name, "parameters.binary_data_size must be a non-negative integer");
    if (!ps->has_binary_section)
        return -fail_input(ps, 400, name,
                           "binary_data_size given without an Inference-Header-Content-Length header");
    if (cJSON_GetObjectItemCaseSensitive(input, "data"))
        return -fail_input(ps, 400, name, "has both \"data\" and binary_data_size");
    size_t left = ps->binary_len - ps->binary_used;
    if ((unsigned long long)n > left) {
        char detail[96];
        snprintf(detail, sizeof(detail), "%lld bytes, but only %zu remain", n, left);
        return -fail_input(ps, 400, name, "binary_data_size runs past the end of the body (%s)", detail);
    }
    *data = ps->binary + ps->binary_used;
    *size = (size_t)n;
    ps->binary_used += (size_t)n;
    return 1;
}

/* "shape" of a BYTES image input: [N] or [N,1]; N in 1..room. */
static int image_shape(parse_state *ps, const cJSON *input, const char *name, int room, int *count) {
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(input, "shape");
    int dims = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : 0;
    long long n, one = 1;
    if (dims < 1 || dims > 2 || json_int(cJSON_GetArrayItem(shape, 0), 0, 1e15, &n) != 0 ||
        (dims == 2 && json_int(cJSON_GetArrayItem(shape, 1), 0, 1e15, &one) != 0) || one != 1)
        return fail_input(ps, 400, name, "\"shape\" must be [N] (or [N,1]) for N images");
    if (n == 0) return fail_input(ps, 400, name, "the input's \"data\" must list at least one image");
    if (n > room) return fail_input(ps, 413, name, "too many images in one request");
    *count = (int)n;
    return 0;
}

static int add_image(parse_state *ps, const char *name, const uint8_t *bytes, size_t len) {
    kserve_item *item = add_item(ps);
    if (!item) return fail_input(ps, 500, name, "out of memory");
    item->image = malloc(len ? len : 1);
    if (!item->image) return fail_input(ps, 500, name, "out of memory");
    if (len) memcpy(item->image, bytes, len);
    item->image_len = len;
    return 0;
}

static uint32_t read_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int parse_image_input(parse_state *ps, const cJSON *input, const char *name, int room) {
    int count = 0;
    int st = image_shape(ps, input, name, room, &count);
    if (st) return st;
    const uint8_t *bin;
    size_t bin_len;
    int b = binary_slice(ps, input, name, &bin, &bin_len);
    if (b < 0) return -b;
    if (b == 1) {
        /* Binary BYTES: elements of a 4-byte little-endian length and that many bytes. */
        size_t off = 0;
        int elements = 0;
        while (off < bin_len) {
            if (elements == count)
                return fail_input(ps, 400, name, "the binary data holds more elements than \"shape\" says");
            if (bin_len - off < 4)
                return fail_input(ps, 400, name, "a BYTES element's 4-byte length is cut off");
            uint32_t n = read_le32(bin + off);
            off += 4;
            if (n > bin_len - off) {
                char detail[80];
                snprintf(detail, sizeof(detail), "element %d: %u bytes, %zu left", elements, n, bin_len - off);
                return fail_input(ps, 400, name, "a BYTES element runs past the input's binary data (%s)", detail);
            }
            if (n == 0) return fail_input(ps, 400, name, "an image element is empty");
            if ((st = add_image(ps, name, bin + off, n))) return st;
            off += n;
            elements++;
        }
        if (elements != count) {
            char detail[64];
            snprintf(detail, sizeof(detail), "%d, \"shape\" says %d", elements, count);
            return fail_input(ps, 400, name, "the binary data holds fewer elements than \"shape\" says (%s)", detail);
        }
        return 0;
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(input, "data");
    if (!cJSON_IsArray(data) || cJSON_GetArraySize(data) == 0)
        return fail_input(ps, 400, name, "the input's \"data\" must list at least one image");
    if (cJSON_GetArraySize(data) != count)
        return fail_input(ps, 400, name, "\"shape\" must be [N] (or [N,1]) with N images in \"data\"");
    const cJSON *item;
    cJSON_ArrayForEach(item, data) {
        /* [b64, ...] or the nested [[b64], ...] some clients send for shape [N,1]. */
        const cJSON *value = item;
        if (cJSON_IsArray(item)) {
            if (cJSON_GetArraySize(item) != 1)
                return fail_input(ps, 400, name, "input data rows must each hold one image");
            value = cJSON_GetArrayItem(item, 0);
        }
        if (!cJSON_IsString(value)) return fail_input(ps, 400, name, "each image must be a base64 string");
        size_t n = strlen(value->valuestring);
        kserve_item *it = add_item(ps);
        if (!it) return fail_input(ps, 500, name, "out of memory");
        it->image = malloc(base64_decoded_max(n) + 1);
        if (!it->image) return fail_input(ps, 500, name, "out of memory");
        long long got = base64_decode(value->valuestring, n, it->image);
        if (got <= 0) return fail_input(ps, 400, name, "an image is not valid base64");
        it->image_len = (size_t)got;
    }
    return 0;
}

/* Copies the numbers of a (possibly nested) JSON array into out, row-major.
 * Returns the count seen (stops counting past want + 1), or -1 for a
 * non-number. */
static long long flatten_numbers(const cJSON *node, float *out, long long want, long long have, int depth) {
    if (depth > 8) return -1;
    const cJSON *v;
    cJSON_ArrayForEach(v, node) {
        if (have > want) return have;
        if (cJSON_IsArray(v)) {
            have = flatten_numbers(v, out, want, have, depth + 1);
            if (have < 0) return -1;
        } else if (cJSON_IsNumber(v)) {
            /* out of float range would be undefined as a conversion: NaN, refused below */
            double d = v->valuedouble;
            if (have < want) out[have] = isfinite(d) && fabs(d) <= FLT_MAX ? (float)d : NAN;
            have++;
        } else {
            return -1;
        }
    }
    return have;
}

static int parse_tensor_input(parse_state *ps, const cJSON *input, const char *name, int room) {
    const kserve_limits *lim = ps->limits;
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(input, "shape");
    long long dims[4];
    int ok = cJSON_IsArray(shape) && cJSON_GetArraySize(shape) == 4;
    for (int d = 0; ok && d < 4; d++) ok = json_int(cJSON_GetArrayItem(shape, d), 0, 1e15, &dims[d]) == 0;
    if (!ok || dims[1] != lim->channels || dims[2] != lim->height || dims[3] != lim->width || dims[0] < 1) {
        char detail[64];
        snprintf(detail, sizeof(detail), "[N,%d,%d,%d]", lim->channels, lim->height, lim->width);
        return fail_input(ps, 400, name, "\"shape\" must be %s with N >= 1", detail);
    }
    if (dims[0] > room) return fail_input(ps, 413, name, "too many images in one request");
    int count = (int)dims[0];
    size_t per_item = (size_t)lim->channels * (size_t)lim->height * (size_t)lim->width;
    long long total = (long long)per_item * count;
    float *all = malloc(sizeof(float) * (size_t)total);
    if (!all) return fail_input(ps, 500, name, "out of memory");

    const uint8_t *bin;
    size_t bin_len;
    int b = binary_slice(ps, input, name, &bin, &bin_len);
    if (b < 0) {
        free(all);
        return -b;
    }
    if (b == 1) {
        if (bin_len != (size_t)total * 4) {
            char detail[96];
            snprintf(detail, sizeof(detail), "%zu bytes for %lld FP32 elements (%lld bytes)", bin_len, total, total * 4);
            free(all);
            return fail_input(ps, 400, name, "binary_data_size does not match \"shape\" (%s)", detail);
        }
        for (long long i = 0; i < total; i++) {
            uint32_t bits = read_le32(bin + 4 * i);
            memcpy(&all[i], &bits, 4);
        }
    } else {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(input, "data");
        long long got = cJSON_IsArray(data) ? flatten_numbers(data, all, total, 0, 0) : -1;
        if (got != total) {
            free(all);
            if (got < 0) return fail_input(ps, 400, name, "\"data\" must be an array of numbers");
            return fail_input(ps, 400, name, "\"data\" holds %s elements than \"shape\" says",
                              got > total ? "more" : "fewer");
        }
    }
    for (long long i = 0; i < total; i++) {
        if (!isfinite(all[i])) {
            free(all);
            return fail_input(ps, 400, name, "tensor values must be finite (no NaN or infinity)");
        }
    }
    for (int i = 0; i < count; i++) {
        kserve_item *item = add_item(ps);
        float *t = item ? malloc(sizeof(float) * per_item) : NULL;
        if (!t) {
            free(all);
            return fail_input(ps, 500, name, "out of memory");
        }
        memcpy(t, all + per_item * (size_t)i, sizeof(float) * per_item);
        item->tensor = t;
    }
    free(all);
    return 0;
}

static int parse_outputs(parse_state *ps, const cJSON *root) {
    kserve_request *r = ps->r;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "parameters");
    const cJSON *bdo = cJSON_GetObjectItemCaseSensitive(params, "binary_data_output");
    if (bdo && !cJSON_IsBool(bdo)) return fail_input(ps, 400, NULL, "parameters.binary_data_output must be a boolean");
    int all_binary = cJSON_IsTrue(bdo);
    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    if (!outputs || (cJSON_IsArray(outputs) && cJSON_GetArraySize(outputs) == 0)) {
        kserve_output_request *o = &r->outputs[r->output_count++];
        snprintf(o->name, sizeof(o->name), KSERVE_OUTPUT_LOGITS);
        o->binary = all_binary;
        return 0;
    }
    if (!cJSON_IsArray(outputs) || cJSON_GetArraySize(outputs) > KSERVE_MAX_OUTPUTS)
        return fail_input(ps, 400, NULL, "\"outputs\" must be an array of at most 4 requested outputs");
    const cJSON *out;
    cJSON_ArrayForEach(out, outputs) {
        if (!cJSON_IsObject(out)) return fail_input(ps, 400, NULL, "each requested output must be an object");
        kserve_output_request *o = &r->outputs[r->output_count++];
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(out, "name");
        const cJSON *oparams = cJSON_GetObjectItemCaseSensitive(out, "parameters");
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(oparams, "classification");
        const cJSON *bin = cJSON_GetObjectItemCaseSensitive(oparams, "binary_data");
        if (k) {
            long long kv;
            if (json_int(k, 1, 1000, &kv) != 0)
                return fail_input(ps, 400, NULL, "parameters.classification must be an integer from 1 to 1000");
            o->classification = (int)kv;
        }
        if (bin && !cJSON_IsBool(bin))
            return fail_input(ps, 400, NULL, "an output's parameters.binary_data must be a boolean");
        o->binary = bin ? cJSON_IsTrue(bin) : all_binary;
        const char *default_name = o->classification ? "classification" : KSERVE_OUTPUT_LOGITS;
        snprintf(o->name, sizeof(o->name), "%s",
                 cJSON_IsString(name) && name->valuestring[0] ? name->valuestring : default_name);
    }
    return 0;
}

int kserve_parse_infer(const uint8_t *body, size_t len, size_t header_len, const kserve_limits *limits,
                       kserve_request *r, char *err, size_t errlen) {
    memset(r, 0, sizeof(*r));
    parse_state ps = {.limits = limits, .r = r, .err = err, .errlen = errlen};
    size_t json_len = len;
    if (header_len != KSERVE_JSON_ONLY) {
        if (header_len > len) {
            snprintf(err, errlen,
                     "Inference-Header-Content-Length %zu is larger than the body (%zu bytes)", header_len, len);
            return 400;
        }
        json_len = header_len;
        ps.has_binary_section = 1;
        ps.binary = body + header_len;
        ps.binary_len = len - header_len;
    }
    cJSON *root = cJSON_ParseWithLength((const char *)body, json_len);
    int status = 0;
    if (!cJSON_IsObject(root)) {
        status = fail_input(&ps, 400, NULL, "the infer request's JSON header must be a JSON object");
        goto done;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (cJSON_IsString(id)) snprintf(r->id, sizeof(r->id), "%s", id->valuestring);

    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) < 1 || cJSON_GetArraySize(inputs) > 2) {
        status = fail_input(&ps, 400, NULL,
                            "\"inputs\" must be an array with the \"" KSERVE_INPUT_IMAGE "\" (BYTES) and/or \"" KSERVE_INPUT_TENSOR
                            "\" (FP32) input");
        goto done;
    }
    int seen_image = 0, seen_tensor = 0;
    const cJSON *input;
    cJSON_ArrayForEach(input, inputs) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(input, "name");
        const cJSON *datatype = cJSON_GetObjectItemCaseSensitive(input, "datatype");
        const char *dt = cJSON_IsString(datatype) ? datatype->valuestring : "";
        /* A nameless input is taken by its datatype, as inferd always did. */
        const char *n = cJSON_IsString(name) ? name->valuestring
                        : !strcmp(dt, "FP32") ? KSERVE_INPUT_TENSOR : KSERVE_INPUT_IMAGE;
        int room = limits->max_images - r->item_count;
        if (!strcmp(n, KSERVE_INPUT_IMAGE) || (strcmp(n, KSERVE_INPUT_TENSOR) && strcmp(dt, "FP32"))) {
            if (strcmp(dt, "BYTES") != 0) {
                status = fail_input(&ps, 400, n,
                                    "the image input's datatype must be \"BYTES\" (image files); preprocessed "
                                    "tensors go in the FP32 input \"" KSERVE_INPUT_TENSOR "\"");
                goto done;
            }
            if (seen_image++) {
                status = fail_input(&ps, 400, n, "appears twice in \"inputs\"");
                goto done;
            }
            status = parse_image_input(&ps, input, n, room);
        } else {
            if (strcmp(dt, "FP32") != 0) {
                status = fail_input(&ps, 400, n, "the tensor input's datatype must be \"FP32\"");
                goto done;
            }
            if (seen_tensor++) {
                status = fail_input(&ps, 400, n, "appears twice in \"inputs\"");
                goto done;
            }
            status = parse_tensor_input(&ps, input, n, room);
        }
        if (status) goto done;
    }
    if (ps.has_binary_section && ps.binary_used != ps.binary_len) {
        char detail[96];
        snprintf(detail, sizeof(detail), "%zu bytes follow the JSON header, the inputs' binary_data_size add up to %zu",
                 ps.binary_len, ps.binary_used);
        status = fail_input(&ps, 400, NULL, "binary data does not add up (%s)", detail);
        goto done;
    }
    status = parse_outputs(&ps, root);
done:
    cJSON_Delete(root);
    if (status) kserve_request_free(r);
    return status;
}

/* ---- metadata, ready, config, stats ---- */

char *kserve_server_metadata(const char *server_version) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "name", "inferd");
    cJSON_AddStringToObject(root, "version", server_version);
    const char *extensions[] = {"binary_tensor_data", "classification", "statistics", "model_configuration"};
    cJSON_AddItemToObject(root, "extensions", cJSON_CreateStringArray(extensions, 4));
    return response_print_and_delete(root);
}

static cJSON *tensor_meta(const char *name, const char *datatype, const int *dims, int ndims) {
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "name", name);
    cJSON_AddStringToObject(t, "datatype", datatype);
    cJSON_AddItemToObject(t, "shape", cJSON_CreateIntArray(dims, ndims));
    return t;
}

static void add_io(cJSON *root, const kserve_model *m) {
    cJSON *inputs = cJSON_AddArrayToObject(root, "inputs");
    int image_dims[1] = {-1};
    cJSON_AddItemToArray(inputs, tensor_meta(KSERVE_INPUT_IMAGE, "BYTES", image_dims, 1));
    int tensor_dims[4] = {-1, m->channels, m->height, m->width};
    cJSON_AddItemToArray(inputs, tensor_meta(KSERVE_INPUT_TENSOR, "FP32", tensor_dims, 4));
    cJSON *outputs = cJSON_AddArrayToObject(root, "outputs");
    int logit_dims[2] = {-1, m->num_classes};
    cJSON_AddItemToArray(outputs, tensor_meta(KSERVE_OUTPUT_LOGITS, "FP32", logit_dims, 2));
}

char *kserve_model_metadata(const kserve_model *m) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "name", m->name);
    const char *versions[] = {m->version};
    cJSON_AddItemToObject(root, "versions", cJSON_CreateStringArray(versions, 1));
    cJSON_AddStringToObject(root, "platform", m->platform);
    add_io(root, m);
    cJSON *params = cJSON_AddObjectToObject(root, "parameters");
    cJSON_AddStringToObject(params, "weights", m->weights);
    cJSON_AddStringToObject(params, "precision", m->precision);
    cJSON_AddNumberToObject(params, "input_size", m->height);
    return response_print_and_delete(root);
}

char *kserve_model_ready(const kserve_model *m) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "name", m->name);
    cJSON_AddBoolToObject(root, "ready", 1);
    return response_print_and_delete(root);
}

/* Shaped like Triton's model configuration (model_config.proto in JSON),
 * with inferd's preprocessing under "parameters". */
char *kserve_model_config(const kserve_model *m) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "name", m->name);
    cJSON_AddStringToObject(root, "platform", m->platform);
    cJSON_AddStringToObject(root, "backend", "pytorch");
    cJSON_AddNumberToObject(root, "max_batch_size", m->max_batch);
    cJSON *inputs = cJSON_AddArrayToObject(root, "input");
    cJSON *in_image = cJSON_CreateObject();
    cJSON_AddStringToObject(in_image, "name", KSERVE_INPUT_IMAGE);
    cJSON_AddStringToObject(in_image, "data_type", "TYPE_STRING");
    cJSON_AddStringToObject(in_image, "format", "FORMAT_NONE");
    int one[1] = {1};
    cJSON_AddItemToObject(in_image, "dims", cJSON_CreateIntArray(one, 1));
    cJSON_AddItemToArray(inputs, in_image);
    cJSON *in_tensor = cJSON_CreateObject();
    cJSON_AddStringToObject(in_tensor, "name", KSERVE_INPUT_TENSOR);
    cJSON_AddStringToObject(in_tensor, "data_type", "TYPE_FP32");
    cJSON_AddStringToObject(in_tensor, "format", "FORMAT_NCHW");
    int chw[3] = {m->channels, m->height, m->width};
    cJSON_AddItemToObject(in_tensor, "dims", cJSON_CreateIntArray(chw, 3));
    cJSON_AddItemToArray(inputs, in_tensor);
    cJSON *outputs = cJSON_AddArrayToObject(root, "output");
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "name", KSERVE_OUTPUT_LOGITS);
    cJSON_AddStringToObject(out, "data_type", "TYPE_FP32");
    int classes[1] = {m->num_classes};
    cJSON_AddItemToObject(out, "dims", cJSON_CreateIntArray(classes, 1));
    if (m->labels) cJSON_AddStringToObject(out, "label_filename", "imagenet_class_index.json");
    cJSON_AddItemToArray(outputs, out);
    cJSON *dynamic = cJSON_AddObjectToObject(root, "dynamic_batching");
    cJSON_AddNumberToObject(dynamic, "max_queue_delay_microseconds", m->batch_delay_us);
    cJSON *queue = cJSON_AddObjectToObject(dynamic, "default_queue_policy");
    cJSON_AddNumberToObject(queue, "max_queue_size", m->queue_capacity);
    cJSON *groups = cJSON_AddArrayToObject(root, "instance_group");
    cJSON *group = cJSON_CreateObject();
    cJSON_AddNumberToObject(group, "count", m->instances);
    cJSON_AddStringToObject(group, "kind", "KIND_CPU");
    cJSON_AddItemToArray(groups, group);
    cJSON *params = cJSON_AddObjectToObject(root, "parameters");
    cJSON *pre = cJSON_AddObjectToObject(params, "preprocessing");
    if (m->resize > 0) {
        cJSON_AddNumberToObject(pre, "resize", m->resize);
    } else {
        int hw[2] = {m->resize_height, m->resize_width};
        cJSON_AddItemToObject(pre, "resize", cJSON_CreateIntArray(hw, 2));
    }
    if (m->height == m->width) {
        cJSON_AddNumberToObject(pre, "crop", m->height);
    } else {
        int crop[2] = {m->height, m->width};
        cJSON_AddItemToObject(pre, "crop", cJSON_CreateIntArray(crop, 2));
    }
    cJSON_AddItemToObject(pre, "mean", cJSON_CreateDoubleArray(m->mean, 3));
    cJSON_AddItemToObject(pre, "std", cJSON_CreateDoubleArray(m->std, 3));
    cJSON_AddStringToObject(pre, "interpolation", m->interpolation ? m->interpolation : "bilinear");
    cJSON_AddNumberToObject(params, "max_images_per_request", m->max_images);
    cJSON_AddStringToObject(params, "precision", m->precision);
    return response_print_and_delete(root);
}

static cJSON *duration_json(kserve_duration d) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)d.count);
    cJSON_AddNumberToObject(o, "ns", (double)d.ns);
    return o;
}

/* Shaped like Triton's statistics extension: {"model_stats":[{...}]}. */
char *kserve_model_stats(const kserve_model *m, const kserve_stats *s) {
    cJSON *root = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(root, "model_stats");
    cJSON *ms = cJSON_CreateObject();
    cJSON_AddItemToArray(list, ms);
    cJSON_AddStringToObject(ms, "name", m->name);
    cJSON_AddStringToObject(ms, "version", m->version);
    cJSON_AddNumberToObject(ms, "last_inference", (double)s->last_inference_ms);
    cJSON_AddNumberToObject(ms, "inference_count", (double)s->inference_count);
    cJSON_AddNumberToObject(ms, "execution_count", (double)s->execution_count);
    cJSON *is = cJSON_AddObjectToObject(ms, "inference_stats");
    cJSON_AddItemToObject(is, "success", duration_json(s->success));
    cJSON_AddItemToObject(is, "fail", duration_json(s->fail));
    cJSON_AddItemToObject(is, "queue", duration_json(s->queue));
    cJSON_AddItemToObject(is, "compute_input", duration_json(s->compute_input));
    cJSON_AddItemToObject(is, "compute_infer", duration_json(s->compute_infer));
    cJSON_AddItemToObject(is, "compute_output", duration_json(s->compute_output));
    kserve_duration zero = {0, 0};
    cJSON_AddItemToObject(is, "cache_hit", duration_json(zero));
    cJSON_AddItemToObject(is, "cache_miss", duration_json(zero));
    cJSON *batches = cJSON_AddArrayToObject(ms, "batch_stats");
    for (int b = 1; b <= KSERVE_STATS_MAX_BATCH; b++) {
        if (!s->batch_infer[b].count) continue;
        cJSON *bs = cJSON_CreateObject();
        cJSON_AddNumberToObject(bs, "batch_size", b);
        /* inferd measures the forward per batch; decode/preprocess and the
         * response are per request, counted in inference_stats. */
        cJSON_AddItemToObject(bs, "compute_input", duration_json(zero));
        cJSON_AddItemToObject(bs, "compute_infer", duration_json(s->batch_infer[b]));
        cJSON_AddItemToObject(bs, "compute_output", duration_json(zero));
        cJSON_AddItemToArray(batches, bs);
    }
    return response_print_and_delete(root);
}

/* ---- infer response ---- */

typedef struct {
    uint8_t *data;
    size_t len, cap;
    int failed;
} byte_buffer;

static void buffer_append(byte_buffer *b, const void *data, size_t n) {
    if (b->failed) return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        uint8_t *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void buffer_append_le32(byte_buffer *b, uint32_t v) {
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    buffer_append(b, le, 4);
}

/* One output tensor: JSON "data", or its bytes appended to binary with
 * parameters.binary_data_size. */
static cJSON *output_json(const kserve_output_request *o, const kserve_model *m, const float *const *logits, int n,
                          byte_buffer *binary) {
    size_t start = binary->len;
    cJSON *out;
    if (o->classification > 0) {
        int k = o->classification < m->num_classes ? o->classification : m->num_classes;
        int dims[2] = {n, k};
        out = tensor_meta(o->name, "BYTES", dims, 2);
        cJSON *data = o->binary ? NULL : cJSON_AddArrayToObject(out, "data");
        prediction *top = malloc(sizeof(prediction) * (size_t)k);
        if (!top) binary->failed = 1;
        for (int i = 0; i < n && top; i++) {
            predictions_topk(logits[i], m->num_classes, k, top);
            for (int j = 0; j < k; j++) {
                /* Triton's classification extension: "<value>:<index>:<label>". */
                char entry[256];
                const char *label = m->labels ? labels_name(m->labels, top[j].index) : NULL;
                int len = snprintf(entry, sizeof(entry), "%f:%d%s%s", (double)top[j].logit, top[j].index,
                                   label ? ":" : "", label ? label : "");
                if (len < 0) len = 0;
                if ((size_t)len >= sizeof(entry)) len = (int)sizeof(entry) - 1;
                if (data) {
                    cJSON_AddItemToArray(data, cJSON_CreateString(entry));
                } else {
                    buffer_append_le32(binary, (uint32_t)len);
                    buffer_append(binary, entry, (size_t)len);
                }
            }
        }
        free(top);
    } else {
        int dims[2] = {n, m->num_classes};
        out = tensor_meta(o->name, "FP32", dims, 2);
        if (o->binary) {
            for (int i = 0; i < n; i++)
                for (int c = 0; c < m->num_classes; c++) {
                    uint32_t bits;
                    memcpy(&bits, &logits[i][c], 4);
                    buffer_append_le32(binary, bits);
                }
        } else {
            cJSON *data = cJSON_AddArrayToObject(out, "data");
            for (int i = 0; i < n; i++)
                for (int c = 0; c < m->num_classes; c++) cJSON_AddItemToArray(data, cJSON_CreateNumber(logits[i][c]));
        }
    }
    if (o->binary) {
        cJSON *params = cJSON_AddObjectToObject(out, "parameters");
        cJSON_AddNumberToObject(params, "binary_data_size", (double)(binary->len - start));
    }
    return out;
}

int kserve_infer_response(const kserve_request *r, const kserve_model *m, const float *const *logits,
                          kserve_response *resp) {
    memset(resp, 0, sizeof(*resp));
    cJSON *root = cJSON_CreateObject();
    if (!root) return -1;
    cJSON_AddStringToObject(root, "model_name", m->name);
    cJSON_AddStringToObject(root, "model_version", m->version);
    if (r->id[0]) cJSON_AddStringToObject(root, "id", r->id);
    cJSON *outputs = cJSON_AddArrayToObject(root, "outputs");
    byte_buffer binary = {0};
    int any_binary = 0;
    for (int i = 0; i < r->output_count; i++) {
        cJSON_AddItemToArray(outputs, output_json(&r->outputs[i], m, logits, r->item_count, &binary));
        any_binary |= r->outputs[i].binary;
    }
    char *json = response_print_and_delete(root);
    if (!json || binary.failed) {
        free(json);
        free(binary.data);
        return -1;
    }
    size_t json_len = strlen(json);
    resp->body = malloc(json_len + binary.len + 1);
    if (!resp->body) {
        free(json);
        free(binary.data);
        return -1;
    }
    memcpy(resp->body, json, json_len);
    if (binary.len) memcpy(resp->body + json_len, binary.data, binary.len);
    resp->body[json_len + binary.len] = 0;
    resp->len = json_len + binary.len;
    resp->header_len = any_binary ? json_len : 0;
    free(json);
    free(binary.data);
    return 0;
}

void kserve_response_free(kserve_response *resp) {
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}
