/* model_meta: reads what the export script stored about a model file (the
 * inferd_meta.json extra file): its provenance (so that the server never
 * presents a seeded test model as a real one), its name, class count, and
 * how to feed it (resize, crop, interpolation, mean, std). It also resolves
 * the preprocessing in force: a value set in config/env/flags wins, else the
 * model file's, else the built-in default; and it says where each came
 * from. It loads nothing. */
#ifndef INFERD_MODEL_META_H
#define INFERD_MODEL_META_H

#include <stddef.h>

#include "config.h"
#include "preprocess.h"

typedef struct {
    char arch[64];
    char name[64];    /* the model's name; arch when not stored */
    char weights[32]; /* "pretrained", "seeded", "user" or "unknown" */
    char torch_version[32];
    long long seed;   /* -1 when none */
    int input_size;   /* 0 when not stored */
    int num_classes;  /* 0 when not stored */
    /* which of the preprocessing values the file states */
    int has_resize, has_crop, has_interpolation, has_mean, has_std;
    preprocess_config preprocess; /* those values (the rest: preprocess_config_default) */
} model_meta;

/* Missing or unparsable metadata is not an error: weights "unknown", no
 * preprocessing. A preprocess block that is present but wrong (a size out of
 * range, an unknown interpolation, a std <= 0) is: -1 with err, because
 * feeding the model differently from what its file says would give wrong
 * answers silently. */
int model_meta_parse(const char *json, model_meta *out, char *err, size_t errlen);

/* A model name inferd accepts: 1-63 of [A-Za-z0-9_.-], not "." or "..",
 * so that it is one URL path segment as it stands. */
int model_meta_valid_name(const char *name);

/* The model's name on the v2 API when none is configured: the arch stored
 * in the file, else the file's stem, with characters a name cannot hold
 * replaced by '_'. */
void model_meta_default_name(const model_meta *meta, const char *model_path, char *out, size_t outlen);

/* One line for the start-up log, with the warning a seeded model needs. */
void model_meta_describe(const model_meta *meta, char *out, int outlen);

/* The preprocessing in force: each of resize, crop, interpolation, mean and
 * std from cfg when cfg says it was set (file, env, flag), else from meta
 * when the model file states it, else cfg's default. sources gets one line
 * "resize 256 (model file), crop 224x224 (model file), ...". Returns -1 with
 * err when the result is not a valid configuration. */
int model_meta_resolve(const model_meta *meta, const inferd_config *cfg, preprocess_config *out, char *sources,
                       size_t sources_len, char *err, size_t errlen);

#endif
