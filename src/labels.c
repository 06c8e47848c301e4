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
    labels_format format;
    label_entry *entries;
};

static labels *labels_alloc(int count, labels_format format) {
    labels *l = calloc(1, sizeof(*l));
    if (!l) return NULL;
    l->entries = calloc((size_t)count, sizeof(label_entry));
    if (!l->entries) {
        free(l);
        return NULL;
    }
    l->count = count;
    l->format = format;
    return l;
}

/* For list and text files the class id is the index itself, as a string. */
static int set_indexed_entry(labels *l, int index, const char *name, size_t name_len) {
    char id[16];
    snprintf(id, sizeof(id), "%d", index);
    l->entries[index].id = util_strdup(id);
    l->entries[index].name = malloc(name_len + 1);
    if (!l->entries[index].id || !l->entries[index].name) return -1;
    memcpy(l->entries[index].name, name, name_len);
    l->entries[index].name[name_len] = '\0';
    return 0;
}

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

/* ["tench", "goldfish", ...]: index i is class i. */
static int parse_name_list(const cJSON *root, labels **out, char *err, size_t errlen) {
    int count = cJSON_GetArraySize(root);
    if (count <= 0) {
        snprintf(err, errlen, "class list is empty");
        return -1;
    }
    labels *l = labels_alloc(count, LABELS_JSON_LIST);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int index = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, root) {
        if (!cJSON_IsString(item) || !*item->valuestring) {
            snprintf(err, errlen, "class list entry [%d] must be a non-empty string", index);
            labels_free(l);
            return -1;
        }
        if (set_indexed_entry(l, index, item->valuestring, strlen(item->valuestring)) != 0) {
            snprintf(err, errlen, "out of memory");
            labels_free(l);
            return -1;
        }
        index++;
    }
    *out = l;
    return 0;
}

int labels_parse(const char *json, size_t len, labels **out, char *err, size_t errlen) {
    *out = NULL;
    cJSON *root = util_parse_json_document(json, len);
    if (!root) {
        snprintf(err, errlen, "class index is not valid JSON (near byte %ld)",
                 (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - json : 0));
        return -1;
    }
    if (cJSON_IsArray(root)) {
        int rc = parse_name_list(root, out, err, errlen);
        cJSON_Delete(root);
        return rc;
    }
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "class index must be a JSON object {\"0\": [\"n01440764\", \"tench\"], ...} "
                 "or a JSON list of names");
        cJSON_Delete(root);
        return -1;
    }
    int count = cJSON_GetArraySize(root);
    labels *l = NULL;
    if (count <= 0) {
        snprintf(err, errlen, "class index is empty");
        goto fail;
    }
    if (!(l = labels_alloc(count, LABELS_IMAGENET_JSON))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
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

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid:
 * no overlongs, surrogates or code points above U+10FFFF. */
static size_t utf8_sequence(const unsigned char *p, size_t n) {
    if (p[0] < 0x80) return 1;
    size_t need;
    unsigned cp;
    if (p[0] >= 0xC2 && p[0] <= 0xDF) need = 2, cp = p[0] & 0x1F;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF) need = 3, cp = p[0] & 0x0F;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4) need = 4, cp = p[0] & 0x07;
    else return 0;
    if (n < need) return 0;
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (need == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return need;
}

int labels_parse_text(const char *text, size_t len, labels **out, char *err, size_t errlen) {
    *out = NULL;
    const char *p = text, *end = text + len;
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3; /* a UTF-8 byte-order mark */
    /* Lines: split on \n; a final \n does not open an empty last line. */
    int count = 0;
    for (const char *q = p; q < end; q++)
        if (*q == '\n') count++;
    if (end > p && end[-1] != '\n') count++;
    if (count <= 0) {
        snprintf(err, errlen, "label file has no lines");
        return -1;
    }
    labels *l = labels_alloc(count, LABELS_TEXT);
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int index = 0; index < count; index++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *line_end = nl ? nl : end;
        size_t n = (size_t)(line_end - p);
        if (n > 0 && p[n - 1] == '\r') n--; /* CRLF files */
        if (n == 0) {
            snprintf(err, errlen, "label file line %d is empty (one label per line, class %d)", index + 1, index);
            goto fail;
        }
        for (size_t i = 0; i < n;) {
            size_t step = utf8_sequence((const unsigned char *)p + i, n - i);
            if (step == 0 || p[i] == '\0' || p[i] == '\r') {
                snprintf(err, errlen, "label file line %d is not clean UTF-8 text (byte %zu)", index + 1, i + 1);
                goto fail;
            }
            i += step;
        }
        if (set_indexed_entry(l, index, p, n) != 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        p = nl ? nl + 1 : end;
    }
    *out = l;
    return 0;
fail:
    labels_free(l);
    return -1;
}

int labels_parse_any(const char *data, size_t len, labels **out, char *err, size_t errlen) {
    size_t i = 0;
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) i = 3;
    while (i < len && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n')) i++;
    if (i < len && (data[i] == '{' || data[i] == '[')) return labels_parse(data + i, len - i, out, err, errlen);
    return labels_parse_text(data, len, out, err, errlen);
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
    size_t plen = strlen(path);
    int rc = plen > 4 && strcmp(path + plen - 4, ".txt") == 0 ? labels_parse_text(data, len, out, inner, sizeof(inner))
                                                              : labels_parse_any(data, len, out, inner, sizeof(inner));
    if (rc != 0) snprintf(err, errlen, "class index %s: %s", path, inner);
    free(data);
    return rc;
}

int labels_count(const labels *l) { return l->count; }

labels_format labels_get_format(const labels *l) { return l->format; }

const char *labels_format_name(labels_format format) {
    switch (format) {
    case LABELS_IMAGENET_JSON: return "imagenet-json";
    case LABELS_JSON_LIST: return "json-list";
    case LABELS_TEXT: return "text";
    }
    return "?";
}

const char *labels_id(const labels *l, int index) {
    return index >= 0 && index < l->count ? l->entries[index].id : NULL;
}

const char *labels_name(const labels *l, int index) {
    return index >= 0 && index < l->count ? l->entries[index].name : NULL;
}
