/* Fuzzes what an operator's files bring in: label files (ImageNet JSON, JSON
 * list, text lines) and a model file's inferd_meta.json, resolved into a
 * preprocessing configuration as the server does at start and reload. The
 * first byte picks the parser. Errors are fine; crashes, leaks and UB are
 * findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "labels.h"
#include "model_meta.h"
#include "preprocess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char err[512];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0:
    case 1: {
        labels *l = NULL;
        int rc = data[0] % 3 == 0 ? labels_parse_any(text, len, &l, err, sizeof(err))
                                  : labels_parse_text(text, len, &l, err, sizeof(err));
        if (rc == 0) {
            for (int i = 0; i < labels_count(l); i++)
                if (!labels_id(l, i) || !labels_name(l, i)) abort();
            labels_free(l);
        }
        break;
    }
    case 2: {
        char *json = malloc(len + 1);
        if (!json) return 0;
        memcpy(json, text, len);
        json[len] = '\0';
        model_meta meta;
        if (model_meta_parse(json, &meta, err, sizeof(err)) == 0) {
            inferd_config cfg;
            config_defaults(&cfg);
            preprocess_config pc;
            char sources[512];
            if (model_meta_resolve(&meta, &cfg, &pc, sources, sizeof(sources), err, sizeof(err)) == 0) {
                preprocess *pp = NULL;
                if (preprocess_create(&pc, &pp, err, sizeof(err)) == 0) preprocess_free(pp);
            }
            config_free(&cfg);
        }
        free(json);
        break;
    }
    }
    return 0;
}
