/* test_model_meta: model_meta.h — inferd_meta.json with and without the
 * preprocess block (n, [n] and [h, w] sizes, interpolation, mean/std), the
 * refusals of a wrong block, and model_meta_resolve's precedence: a value
 * set in config/env/flags wins over the file, the file over the built-in
 * default, and the sources line says which. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "model_meta.h"

static void test_parse(void) {
    char err[512];
    model_meta m;
    CHECK_EQ_INT(model_meta_parse("", &m, err, sizeof(err)), 0);
    CHECK_STR(m.weights, "unknown");
    CHECK_STR(m.name, "unknown");
    CHECK(!m.has_resize && !m.has_crop && !m.has_interpolation && !m.has_mean && !m.has_std);
    CHECK_EQ_INT(model_meta_parse("not json", &m, err, sizeof(err)), 0);
    CHECK_STR(m.weights, "unknown");

    CHECK_EQ_INT(model_meta_parse("{\"arch\":\"densenet121\",\"weights\":\"seeded\",\"seed\":0,\"num_classes\":1000}",
                                  &m, err, sizeof(err)),
                 0);
    CHECK_STR(m.name, "densenet121"); /* the name defaults to the arch */
    CHECK_EQ_INT(m.num_classes, 1000);
    CHECK_EQ_INT(m.seed, 0);
    /* Informational numbers out of any integer's range are dropped, not
     * converted (the conversion would be undefined behaviour). */
    CHECK_EQ_INT(model_meta_parse("{\"input_size\":1e300,\"seed\":-1e300}", &m, err, sizeof(err)), 0);
    CHECK_EQ_INT(m.input_size, 0);
    CHECK_EQ_INT(m.seed, -1);
    CHECK_EQ_INT(model_meta_parse("{\"input_size\":299,\"seed\":1e30}", &m, err, sizeof(err)), 0);
    CHECK_EQ_INT(m.input_size, 299);
    CHECK_EQ_INT(m.seed, -1);
    CHECK(!m.has_resize);

    const char *full = "{\"arch\":\"efficientnet_b0\",\"name\":\"effnet\",\"weights\":\"user\",\"num_classes\":12,"
                       "\"preprocess\":{\"resize\":[256,320],\"crop\":[224,288],\"interpolation\":\"bicubic\","
                       "\"mean\":[0.5,0.5,0.5],\"std\":[0.25,0.5,1]}}";
    CHECK_EQ_INT(model_meta_parse(full, &m, err, sizeof(err)), 0);
    CHECK_STR(m.name, "effnet");
    CHECK_STR(m.weights, "user");
    CHECK(m.has_resize && m.has_crop && m.has_interpolation && m.has_mean && m.has_std);
    CHECK_EQ_INT(m.preprocess.resize_short, 0);
    CHECK_EQ_INT(m.preprocess.resize_height, 256);
    CHECK_EQ_INT(m.preprocess.resize_width, 320);
    CHECK_EQ_INT(m.preprocess.crop_height, 224);
    CHECK_EQ_INT(m.preprocess.crop_width, 288);
    CHECK_EQ_INT(m.preprocess.interpolation, PREPROCESS_BICUBIC);
    CHECK_EQ_FLOAT(m.preprocess.std[0], 0.25f);

    CHECK_EQ_INT(model_meta_parse("{\"preprocess\":{\"resize\":232,\"crop\":224}}", &m, err, sizeof(err)), 0);
    CHECK_EQ_INT(m.preprocess.resize_short, 232);
    CHECK_EQ_INT(m.preprocess.crop_width, 224);
    CHECK(!m.has_interpolation && !m.has_mean);
    CHECK_EQ_INT(model_meta_parse("{\"preprocess\":{\"resize\":[232]}}", &m, err, sizeof(err)), 0);
    CHECK_EQ_INT(m.preprocess.resize_short, 232);

    static const char *const bad[] = {
        "{\"preprocess\":[]}",
        "{\"preprocess\":{\"resize\":0}}",
        "{\"preprocess\":{\"resize\":[1,2,3]}}",
        "{\"preprocess\":{\"resize\":\"256\"}}",
        "{\"preprocess\":{\"resize\":256.5}}",
        "{\"preprocess\":{\"crop\":[224,100000]}}",
        "{\"preprocess\":{\"interpolation\":\"lanczos\"}}",
        "{\"preprocess\":{\"interpolation\":3}}",
        "{\"preprocess\":{\"mean\":[0.5,0.5]}}",
        "{\"preprocess\":{\"std\":[0.5,0,0.5]}}",
        "{\"preprocess\":{\"std\":[0.5,-1,0.5]}}",
        "{\"num_classes\":0}",
        "{\"num_classes\":\"12\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK_MSG(model_meta_parse(bad[i], &m, err, sizeof(err)) == -1 && err[0], "accepted: %s", bad[i]);
    }
}

static void test_resolve(void) {
    char err[512], sources[512];
    model_meta m;
    inferd_config cfg;
    preprocess_config pc;
    config_defaults(&cfg);
    /* No metadata: the built-in defaults, said so. */
    model_meta_parse("", &m, err, sizeof(err));
    CHECK_EQ_INT(model_meta_resolve(&m, &cfg, &pc, sources, sizeof(sources), err, sizeof(err)), 0);
    CHECK_EQ_INT(pc.resize_short, 255);
    CHECK_EQ_INT(pc.crop_width, 224);
    CHECK_EQ_INT(pc.interpolation, PREPROCESS_BILINEAR);
    CHECK_CONTAINS(sources, "resize 255 (default)");
    CHECK_CONTAINS(sources, "interpolation bilinear (default)");

    /* The file's values. */
    model_meta_parse("{\"preprocess\":{\"resize\":256,\"crop\":[224,224],\"interpolation\":\"bicubic\","
                     "\"mean\":[0.5,0.5,0.5],\"std\":[0.5,0.5,0.5]}}",
                     &m, err, sizeof(err));
    CHECK_EQ_INT(model_meta_resolve(&m, &cfg, &pc, sources, sizeof(sources), err, sizeof(err)), 0);
    CHECK_EQ_INT(pc.resize_short, 256);
    CHECK_EQ_INT(pc.interpolation, PREPROCESS_BICUBIC);
    CHECK_EQ_FLOAT(pc.mean[1], 0.5f);
    CHECK_CONTAINS(sources, "resize 256 (model file)");
    CHECK_CONTAINS(sources, "interpolation bicubic (model file)");
    CHECK_CONTAINS(sources, "(model file), std");

    /* Config over the file, key by key. */
    const char *json = "{\"resize\":[240,320],\"interpolation\":\"bilinear\"}";
    CHECK_EQ_INT(config_apply_json(&cfg, json, strlen(json), "t.json", err, sizeof(err)), 0);
    CHECK_EQ_INT(model_meta_resolve(&m, &cfg, &pc, sources, sizeof(sources), err, sizeof(err)), 0);
    CHECK_EQ_INT(pc.resize_short, 0);
    CHECK_EQ_INT(pc.resize_height, 240);
    CHECK_EQ_INT(pc.resize_width, 320);
    CHECK_EQ_INT(pc.interpolation, PREPROCESS_BILINEAR);
    CHECK_EQ_FLOAT(pc.mean[0], 0.5f); /* still the file's */
    CHECK_CONTAINS(sources, "resize [240, 320] (config file)");
    CHECK_CONTAINS(sources, "interpolation bilinear (config file)");
    CHECK_CONTAINS(sources, "crop 224x224 (model file)");
    config_free(&cfg);
}

int main(void) {
    test_parse();
    test_resolve();
    return check_summary();
}
