#include "response.h"

#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

/* cJSON allocates with malloc by default; we hand callers a plain malloc'd
 * copy so that free() is always right whatever hooks cJSON uses. */
char *response_print_and_delete(cJSON *root) {
    if (!root) return NULL;
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) return NULL;
    size_t n = strlen(text) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, text, n);
    cJSON_free(text);
    return copy;
}

static char *single_string_object(const char *key, const char *value) {
    cJSON *root = cJSON_CreateObject();
    if (root && !cJSON_AddStringToObject(root, key, value)) {
        cJSON_Delete(root);
        return NULL;
    }
    return response_print_and_delete(root);
}

char *response_error_json(const char *message) { return single_string_object("error", message); }

char *response_message_json(const char *message) { return single_string_object("message", message); }

static cJSON *result_object(const labels *l, const float *logits, int num_classes, int topk) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    int best = predictions_argmax(logits, num_classes);
    const char *id = labels_id(l, best), *name = labels_name(l, best);
    if (!cJSON_AddStringToObject(root, "class_id", id ? id : "") ||
        !cJSON_AddStringToObject(root, "class_name", name ? name : "")) {
        cJSON_Delete(root);
        return NULL;
    }
    if (topk > 0) {
        prediction *top = malloc(sizeof(prediction) * (size_t)topk);
        cJSON *list = cJSON_AddArrayToObject(root, "predictions");
        int n = top && list ? predictions_topk(logits, num_classes, topk, top) : -1;
        for (int i = 0; i < n; i++) {
            cJSON *p = cJSON_CreateObject();
            const char *pid = labels_id(l, top[i].index), *pname = labels_name(l, top[i].index);
            if (!p || !cJSON_AddItemToArray(list, p) || !cJSON_AddStringToObject(p, "class_id", pid ? pid : "") ||
                !cJSON_AddStringToObject(p, "class_name", pname ? pname : "") ||
                !cJSON_AddNumberToObject(p, "probability", top[i].probability)) {
                n = -1;
                break;
            }
        }
        free(top);
        if (n < 0) {
            cJSON_Delete(root);
            return NULL;
        }
    }
    return root;
}

char *response_result_json(const labels *l, const float *logits, int num_classes, int topk) {
    return response_print_and_delete(result_object(l, logits, num_classes, topk));
}

static cJSON *error_entry(const response_item *item) {
    cJSON *entry = cJSON_CreateObject();
    if (entry && (!cJSON_AddStringToObject(entry, "error", item->error ? item->error : "") ||
                  !cJSON_AddNumberToObject(entry, "status", item->status))) {
        cJSON_Delete(entry);
        return NULL;
    }
    return entry;
}

char *response_results_json(const labels *l, const response_item *items, int count, int num_classes, int topk) {
    cJSON *root = cJSON_CreateArray();
    for (int i = 0; root && i < count; i++) {
        cJSON *entry = items[i].status == 200 ? result_object(l, items[i].logits, num_classes, topk)
                                               : error_entry(&items[i]);
        if (!entry || !cJSON_AddItemToArray(root, entry)) {
            cJSON_Delete(entry);
            cJSON_Delete(root);
            return NULL;
        }
    }
    return response_print_and_delete(root);
}

char *response_info_json(const char *version, const response_model_info *mi, long long max_body_bytes,
                         long long max_pixels, int max_images) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "name", "inferd");
    cJSON_AddStringToObject(root, "version", version);
    cJSON *m = cJSON_AddObjectToObject(root, "model");
    cJSON_AddStringToObject(m, "name", mi->name);
    cJSON_AddStringToObject(m, "arch", mi->arch);
    cJSON_AddStringToObject(m, "weights", mi->weights);
    if (mi->seed >= 0)
        cJSON_AddNumberToObject(m, "seed", (double)mi->seed);
    else
        cJSON_AddNullToObject(m, "seed");
    cJSON_AddStringToObject(m, "precision", mi->precision);
    cJSON_AddNumberToObject(m, "input_size", mi->input_size);
    cJSON_AddNumberToObject(m, "num_classes", mi->num_classes);
    cJSON_AddStringToObject(m, "preprocessing", mi->preprocessing);
    cJSON_AddNumberToObject(m, "load_seconds", mi->load_seconds);
    cJSON_AddNumberToObject(m, "warm_seconds", mi->warm_seconds);
    cJSON_AddNumberToObject(m, "generation", mi->generation);
    cJSON_AddNumberToObject(m, "reloads", (double)mi->reloads);
    cJSON_AddNumberToObject(m, "failed_reloads", (double)mi->failed_reloads);
    cJSON *limits = cJSON_AddObjectToObject(root, "limits");
    cJSON_AddNumberToObject(limits, "max_body_bytes", (double)max_body_bytes);
    cJSON_AddNumberToObject(limits, "max_pixels", (double)max_pixels);
    cJSON_AddNumberToObject(limits, "max_images", max_images);
    return response_print_and_delete(root);
}
