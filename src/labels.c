#include "labels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "util.h"

typedef struct {
    char *id;
    char *name;
} label_entry;

struct labels {
    int count;
    label_entry *entries;
};

void labels_free(labels *l) {
    if (!l) return;
    for (int i = 0; i < l->count; i++) {
        free(l->entries[i].id);
        free(l->entries[i].name);
    }
    free(l->entries);
    free(l);
}

/* Canonical decimal only: digits, no sign, space or leading zero. */
static int parse_index_key(const char *key, int count) {
    if (!key || !*key || (key[0] == '0' && key[1])) return -1;
    long v = 0;
    for (const char *p = key; *p; p++) {
        if (*p < '0' || *p > '9' || v > count) return -1;
        v = v * 10 + (*p - '0');
    }
    return v < count ? (int)v : -1;
}

int labels_parse(const char *json, size_t len, labels **out, char *err, size_t errlen) {
    *out = NULL;
    cJSON *root = util_parse_json_document(json, len);
    if (!root) {
        snprintf(err, errlen, "class index is not valid JSON (near byte %ld)",
                 (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - json : 0));
        return -1;
    }
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "class index must be a JSON object {\"0\": [\"n01440764\", \"tench\"], ...}");
        cJSON_Delete(root);
        return -1;
    }
    int count = cJSON_GetArraySize(root);
    labels *l = calloc(1, sizeof(*l));
    if (count <= 0) {
        snprintf(err, errlen, "class index is empty");
        goto fail;
    }
    if (!l || !(l->entries = calloc((size_t)count, sizeof(label_entry)))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    l->count = count;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        int index = parse_index_key(item->string, count);
        if (index < 0) {
            snprintf(err, errlen, "class index key \"%s\" is not an integer in 0..%d", item->string, count - 1);
            goto fail;
        }
        if (l->entries[index].id) {
            snprintf(err, errlen, "class index key \"%s\" appears twice", item->string);
            goto fail;
        }
        const cJSON *wnid = cJSON_GetArrayItem(item, 0), *name = cJSON_GetArrayItem(item, 1);
        if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != 2 || !cJSON_IsString(wnid) ||
            !cJSON_IsString(name) || !*wnid->valuestring || !*name->valuestring) {
            snprintf(err, errlen, "class index entry \"%s\" must be [\"<wordnet id>\", \"<name>\"]", item->string);
            goto fail;
        }
        l->entries[index].id = util_strdup(wnid->valuestring);
        l->entries[index].name = util_strdup(name->valuestring);
        if (!l->entries[index].id || !l->entries[index].name) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    /* count keys, each in range and none twice: every index is present. */
    cJSON_Delete(root);
    *out = l;
    return 0;
fail:
    cJSON_Delete(root);
    labels_free(l);
    return -1;
}

int labels_load(const char *path, labels **out, char *err, size_t errlen) {
    char *data = NULL;
    size_t len = 0;
    char why[256];
    if (util_read_file(path, 64u << 20, &data, &len, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "class index %s: %s", path, why);
        *out = NULL;
        return -1;
    }
    char inner[384];
    int rc = labels_parse(data, len, out, inner, sizeof(inner));
    if (rc != 0) snprintf(err, errlen, "class index %s: %s", path, inner);
    free(data);
    return rc;
}

int labels_count(const labels *l) { return l->count; }

const char *labels_id(const labels *l, int index) {
    return index >= 0 && index < l->count ? l->entries[index].id : NULL;
}

const char *labels_name(const labels *l, int index) {
    return index >= 0 && index < l->count ? l->entries[index].name : NULL;
}
