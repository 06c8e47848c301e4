#include "kserve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "base64.h"
#include "predictions.h"
#include "response.h"

void kserve_request_free(kserve_request *r) {
    for (int i = 0; i < r->image_count; i++) free(r->images[i].data);
    free(r->images);
    memset(r, 0, sizeof(*r));
}

static int fail(kserve_request *r, cJSON *root, int status, char *err, size_t errlen, const char *msg) {
    snprintf(err, errlen, "%s", msg);
    cJSON_Delete(root);
    kserve_request_free(r);
    return status;
}

int kserve_parse_infer(const char *json, size_t len, int max_images, kserve_request *r, char *err,
                       size_t errlen) {
    memset(r, 0, sizeof(*r));
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!cJSON_IsObject(root)) return fail(r, root, 400, err, errlen, "infer request must be a JSON object");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    if (cJSON_IsString(id)) snprintf(r->id, sizeof(r->id), "%s", id->valuestring);

    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(root, "inputs");
    if (!cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) != 1)
        return fail(r, root, 400, err, errlen, "\"inputs\" must be an array with one BYTES input of image files");
    const cJSON *input = cJSON_GetArrayItem(inputs, 0);
    const cJSON *datatype = cJSON_GetObjectItemCaseSensitive(input, "datatype");
    if (!cJSON_IsString(datatype) || strcmp(datatype->valuestring, "BYTES") != 0)
        return fail(r, root, 400, err, errlen, "the input's datatype must be \"BYTES\" (base64-encoded image files)");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(input, "data");
    /* Accept [b64, ...] and the nested [[b64], ...] some clients send for shape [N,1]. */
    if (cJSON_IsArray(data) && cJSON_GetArraySize(data) > 0 && cJSON_IsArray(cJSON_GetArrayItem(data, 0))) {
        int ok = 1;
        const cJSON *row;
        cJSON_ArrayForEach(row, data) ok &= cJSON_IsArray(row) && cJSON_GetArraySize(row) == 1;
        if (!ok) return fail(r, root, 400, err, errlen, "input data rows must each hold one image");
    }
    int count = cJSON_IsArray(data) ? cJSON_GetArraySize(data) : 0;
    if (count == 0) return fail(r, root, 400, err, errlen, "the input's \"data\" must list at least one image");
    if (count > max_images) return fail(r, root, 413, err, errlen, "too many images in one request");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(input, "shape");
    const cJSON *dim0 = cJSON_GetArrayItem(shape, 0);
    if (!cJSON_IsArray(shape) || !cJSON_IsNumber(dim0) || (int)dim0->valuedouble != count)
        return fail(r, root, 400, err, errlen, "the input's \"shape\" must be [N] (or [N,1]) with N images in \"data\"");

    r->images = calloc((size_t)count, sizeof(kserve_image));
    if (!r->images) return fail(r, root, 500, err, errlen, "out of memory");
    const cJSON *item;
    cJSON_ArrayForEach(item, data) {
        const cJSON *value = cJSON_IsArray(item) ? cJSON_GetArrayItem(item, 0) : item;
        if (!cJSON_IsString(value)) return fail(r, root, 400, err, errlen, "each image must be a base64 string");
        size_t n = strlen(value->valuestring);
        kserve_image *img = &r->images[r->image_count++];
        img->data = malloc(base64_decoded_max(n));
        if (!img->data) return fail(r, root, 500, err, errlen, "out of memory");
        long long got = base64_decode(value->valuestring, n, img->data);
        if (got < 0) return fail(r, root, 400, err, errlen, "an image is not valid base64");
        img->len = (size_t)got;
    }

    const cJSON *outputs = cJSON_GetObjectItemCaseSensitive(root, "outputs");
    snprintf(r->output_name, sizeof(r->output_name), "logits");
    if (outputs) {
        const cJSON *out = cJSON_GetArrayItem(outputs, 0);
        if (!cJSON_IsArray(outputs) || cJSON_GetArraySize(outputs) != 1 || !cJSON_IsObject(out))
            return fail(r, root, 400, err, errlen, "\"outputs\" must be an array with one requested output");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(out, "name");
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(out, "parameters");
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(params, "classification");
        if (k) {
            if (!cJSON_IsNumber(k) || k->valuedouble < 1 || k->valuedouble > 1000 ||
                k->valuedouble != (int)k->valuedouble)
                return fail(r, root, 400, err, errlen, "parameters.classification must be an integer from 1 to 1000");
            r->classification = (int)k->valuedouble;
            snprintf(r->output_name, sizeof(r->output_name), "classification");
        }
        if (cJSON_IsString(name) && name->valuestring[0])
            snprintf(r->output_name, sizeof(r->output_name), "%s", name->valuestring);
    }
    cJSON_Delete(root);
    return 0;
}

char *kserve_server_metadata(const char *version) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "name", "inferd");
    cJSON_AddStringToObject(root, "version", version);
    const char *extensions[] = {"classification"};
    cJSON_AddItemToObject(root, "extensions", cJSON_CreateStringArray(extensions, 1));
    return response_print_and_delete(root);
}

static cJSON *tensor_meta(const char *name, const char *datatype, int d0, int d1) {
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "name", name);
    cJSON_AddStringToObject(t, "datatype", datatype);
    int dims[2] = {d0, d1};
    cJSON_AddItemToObject(t, "shape", cJSON_CreateIntArray(dims, d1 ? 2 : 1));
    return t;
}

char *kserve_model_metadata(int input_size, int num_classes, const char *weights, const char *precision) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "name", KSERVE_MODEL_NAME);
    const char *versions[] = {"1"};
    cJSON_AddItemToObject(root, "versions", cJSON_CreateStringArray(versions, 1));
    cJSON_AddStringToObject(root, "platform", "pytorch_torchscript");
    cJSON *inputs = cJSON_AddArrayToObject(root, "inputs");
    cJSON_AddItemToArray(inputs, tensor_meta("image", "BYTES", -1, 0));
    cJSON *outputs = cJSON_AddArrayToObject(root, "outputs");
    cJSON_AddItemToArray(outputs, tensor_meta("logits", "FP32", -1, num_classes));
    cJSON *params = cJSON_AddObjectToObject(root, "parameters");
    cJSON_AddStringToObject(params, "weights", weights);
    cJSON_AddStringToObject(params, "precision", precision);
    cJSON_AddNumberToObject(params, "input_size", input_size);
    return response_print_and_delete(root);
}

char *kserve_infer_response(const kserve_request *r, const labels *l, const float *const *logits, int num_classes) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model_name", KSERVE_MODEL_NAME);
    cJSON_AddStringToObject(root, "model_version", "1");
    if (r->id[0]) cJSON_AddStringToObject(root, "id", r->id);
    cJSON *outputs = cJSON_AddArrayToObject(root, "outputs");
    int n = r->image_count;
    if (r->classification > 0) {
        int k = r->classification < num_classes ? r->classification : num_classes;
        cJSON *out = tensor_meta(r->output_name, "BYTES", n, k);
        cJSON *data = cJSON_AddArrayToObject(out, "data");
        prediction *top = malloc(sizeof(prediction) * (size_t)k);
        for (int i = 0; i < n && top; i++) {
            predictions_topk(logits[i], num_classes, k, top);
            for (int j = 0; j < k; j++) {
                /* Triton's classification extension: "<value>:<index>:<label>". */
                char entry[256];
                const char *name = labels_name(l, top[j].index);
                snprintf(entry, sizeof(entry), "%f:%d:%s", (double)top[j].logit, top[j].index, name ? name : "");
                cJSON_AddItemToArray(data, cJSON_CreateString(entry));
            }
        }
        free(top);
        cJSON_AddItemToArray(outputs, out);
    } else {
        cJSON *out = tensor_meta(r->output_name, "FP32", n, num_classes);
        cJSON *data = cJSON_AddArrayToObject(out, "data");
        for (int i = 0; i < n; i++)
            for (int c = 0; c < num_classes; c++) cJSON_AddItemToArray(data, cJSON_CreateNumber(logits[i][c]));
        cJSON_AddItemToArray(outputs, out);
    }
    return response_print_and_delete(root);
}
