/* parity_tool: writes what the C pipeline computes for each image, in the
 * raw format scripts/reference.py writes for PIL + torchvision, so that
 * tests/parity_test.py can compare them value by value:
 *   <out-dir>/<basename>.tensor.f32  [3,crop_h,crop_w] float32
 *   <out-dir>/<basename>.logits.f32  [classes] float32 (unless --no-model)
 * --exif-orientation applies EXIF orientation (the server's exif_orientation).
 * An image the pipeline rejects prints "ERROR <basename> <message>". The
 * preprocessing is the server's: the model file's metadata, else the
 * defaults (the first stdout line says which: "PREPROCESS ..."). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "model.h"
#include "model_meta.h"
#include "pipeline.h"
#include "preprocess.h"
#include "util.h"

static int write_floats(const char *dir, const char *base, const char *suffix, const float *v, size_t n) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.%s.f32", dir, base, suffix);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return -1;
    }
    size_t w = fwrite(v, sizeof(float), n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *out_dir = NULL;
    int use_model = 1, threads = 2, first_image = argc, exif_orientation = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model_path = argv[++i];
        else if (!strcmp(argv[i], "--out-dir") && i + 1 < argc) out_dir = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-model")) use_model = 0;
        else if (!strcmp(argv[i], "--exif-orientation")) exif_orientation = 1;
        else {
            first_image = i;
            break;
        }
    }
    if (!out_dir || (use_model && !model_path)) {
        fprintf(stderr, "usage: %s --model M --out-dir D [--no-model] [--threads N] [--exif-orientation] IMAGE...\n", argv[0]);
        return 2;
    }
    char err[512];
    preprocess_config pc;
    preprocess_config_default(&pc);
    preprocess *pp = NULL;
    model *m = NULL;
    if (use_model) {
        char *json = NULL, sources[512];
        model_meta meta;
        inferd_config defaults;
        config_defaults(&defaults);
        int rc = model_read_metadata(model_path, &json, err, sizeof(err));
        if (rc == 0) rc = model_meta_parse(json, &meta, err, sizeof(err));
        if (rc == 0) rc = model_meta_resolve(&meta, &defaults, &pc, sources, sizeof(sources), err, sizeof(err));
        free(json);
        config_free(&defaults);
        if (rc != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        fprintf(stderr, "preprocessing: %s\n", sources);
    }
    if (preprocess_create(&pc, &pp, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    if (use_model) {
        model_options mo;
        model_options_default(&mo);
        mo.intra_op_threads = threads;
        mo.input_height = pc.crop_height;
        mo.input_width = pc.crop_width;
        if (model_load(model_path, &mo, &m, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            preprocess_free(pp);
            return 1;
        }
    }
    size_t tensor_len = preprocess_tensor_len(pp);
    int classes = m ? model_num_classes(m) : 0;
    float *tensor = malloc(sizeof(float) * tensor_len);
    float *logits = malloc(sizeof(float) * (size_t)(classes > 0 ? classes : 1));
    int status = 0;
    image_limits limits = {.max_pixels = 0, .exif_orientation = exif_orientation};
    for (int i = first_image; i < argc && tensor && logits; i++) {
        const char *base = strrchr(argv[i], '/');
        base = base ? base + 1 : argv[i];
        char *data;
        size_t len;
        if (util_read_file(argv[i], (size_t)1 << 30, &data, &len, err, sizeof(err)) != 0) {
            printf("ERROR %s %s\n", base, err);
            continue;
        }
        image_status st = pipeline_prepare(pp, &limits, (const uint8_t *)data, len, tensor, err, sizeof(err));
        free(data);
        if (st != IMAGE_OK) {
            printf("ERROR %s %s\n", base, err);
            continue;
        }
        if (write_floats(out_dir, base, "tensor", tensor, tensor_len) != 0) status = 1;
        if (m) {
            if (model_forward(m, tensor, 1, logits, err, sizeof(err)) != 0) {
                printf("ERROR %s %s\n", base, err);
                status = 1;
                continue;
            }
            if (write_floats(out_dir, base, "logits", logits, (size_t)classes) != 0) status = 1;
        }
    }
    free(tensor);
    free(logits);
    model_free(m);
    preprocess_free(pp);
    return status;
}
