/* model_meta: reads what the export script stored about a model file (the
 * inferd_meta.json extra file) so that the server can say what it serves,
 * and never present a seeded test model as a real one. */
#ifndef INFERD_MODEL_META_H
#define INFERD_MODEL_META_H

#include <stddef.h>

typedef struct {
    char arch[64];
    char weights[32]; /* "pretrained", "seeded" or "unknown" */
    char torch_version[32];
    long long seed;   /* -1 when none */
    int input_size;   /* 0 when not stored */
} model_meta;

/* Never fails: missing or malformed metadata gives weights "unknown". */
void model_meta_parse(const char *json, model_meta *out);

/* A model name inferd accepts: 1-63 of [A-Za-z0-9_.-], not "." or "..",
 * so that it is one URL path segment as it stands. */
int model_meta_valid_name(const char *name);

/* The model's name on the v2 API when none is configured: the arch stored
 * in the file, else the file's stem, with characters a name cannot hold
 * replaced by '_'. */
void model_meta_default_name(const model_meta *meta, const char *model_path, char *out, size_t outlen);

/* One line for the start-up log, with the warning a seeded model needs. */
void model_meta_describe(const model_meta *meta, char *out, int outlen);

#endif
