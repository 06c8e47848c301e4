/* model_meta: reads what the export script stored about a model file (the
 * inferd_meta.json extra file) so that the server can say what it serves,
 * and never present a seeded test model as a real one. */
#ifndef INFERD_MODEL_META_H
#define INFERD_MODEL_META_H

typedef struct {
    char arch[64];
    char weights[32]; /* "pretrained", "seeded" or "unknown" */
    char torch_version[32];
    long long seed;   /* -1 when none */
    int input_size;   /* 0 when not stored */
} model_meta;

/* Never fails: missing or malformed metadata gives weights "unknown". */
void model_meta_parse(const char *json, model_meta *out);

/* One line for the start-up log, with the warning a seeded model needs. */
void model_meta_describe(const model_meta *meta, char *out, int outlen);

#endif
