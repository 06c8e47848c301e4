/* inferd-classify: the server's pipeline without HTTP. Prints, for each
 * image given, the JSON the server would answer (one line each). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "labels.h"
#include "log.h"
#include "model.h"
#include "model_meta.h"
#include "pipeline.h"
#include "preprocess.h"
#include "response.h"
#include "served_model.h"
#include "util.h"

static int is_meta_flag(const char *a) {
    return !strcmp(a, "--help") || !strcmp(a, "-h") || !strcmp(a, "--version") || !strcmp(a, "--check-config");
}

int main(int argc, char **argv) {
    util_retain_freed_memory();
    /* Split argv: --key value pairs go to the shared config parser, the rest
     * are image paths. --topk is this tool's own option. */
    char **flags = calloc((size_t)argc + 1, sizeof(char *));
    const char **images = calloc((size_t)argc + 1, sizeof(char *));
    if (!flags || !images) return 2;
    int nflags = 0, nimages = 0, topk = 0;
    flags[nflags++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--topk") && i + 1 < argc) {
            topk = atoi(argv[++i]);
        } else if (is_meta_flag(argv[i]) || (!strncmp(argv[i], "--", 2) && strchr(argv[i], '='))) {
            flags[nflags++] = argv[i];
        } else if (!strncmp(argv[i], "--", 2)) {
            flags[nflags++] = argv[i];
            if (i + 1 < argc) flags[nflags++] = argv[++i];
        } else {
            images[nimages++] = argv[i];
        }
    }
    if (argc > 1 && !strcmp(argv[1], "--help")) {
        printf("Usage: %s [--topk K] [--KEY VALUE ...] IMAGE...\n"
               "Classifies each image with the server's pipeline and prints the server's JSON, one line each.\n"
               "Settings as for inferd:\n\n",
               argv[0]);
    }
    inferd_config cfg;
    char err[1024] = "";
    config_action action = config_load(&cfg, nflags, flags, stdout, err, sizeof(err));
    int status = 0;
    served_model *sm = NULL;
    const labels *l = NULL;
    const preprocess *pp = NULL;
    model *m = NULL;
    float *tensor = NULL, *logits = NULL;
    if (action != CONFIG_RUN) {
        if (action == CONFIG_EXIT_ERROR) fprintf(stderr, "inferd-classify: %s\n", err);
        status = action == CONFIG_EXIT_OK ? 0 : 2;
        goto done;
    }
    log_set_format(log_parse_format(cfg.log_format));
    if (nimages == 0) {
        fprintf(stderr, "inferd-classify: no image given (see --help)\n");
        status = 2;
        goto done;
    }
    if (topk < 0 || topk > 1000) {
        fprintf(stderr, "inferd-classify: --topk must be 1..1000\n");
        status = 2;
        goto done;
    }
    model_options mo;
    model_options_default(&mo);
    mo.intra_op_threads = cfg.threads > 0 ? cfg.threads : config_online_cpus();
    mo.optimize = cfg.optimize;
    mo.precision = strcmp(cfg.precision, "bf16") == 0   ? MODEL_PRECISION_BF16
                   : strcmp(cfg.precision, "int8") == 0 ? MODEL_PRECISION_INT8
                                                        : MODEL_PRECISION_FP32;
    if (served_model_load(&cfg, &mo, &sm, err, sizeof(err)) != 0) {
        fprintf(stderr, "inferd-classify: %s\n", err);
        status = 1;
        goto done;
    }
    l = sm->labels;
    pp = sm->preprocess;
    m = sm->model;
    char description[256];
    model_meta_describe(&sm->meta, description, sizeof(description));
    log_info("model: %s", description);
    log_info("preprocessing: %s", sm->sources);
    int classes = sm->num_classes;
    image_limits limits = {.max_pixels = (uint64_t)cfg.max_pixels, .exif_orientation = cfg.exif_orientation};
    tensor = malloc(sizeof(float) * preprocess_tensor_len(pp));
    logits = malloc(sizeof(float) * (size_t)classes);
    if (!tensor || !logits) {
        status = 1;
        goto done;
    }
    for (int i = 0; i < nimages; i++) {
        char *data = NULL;
        size_t len = 0;
        char *json = NULL;
        if (util_read_file(images[i], (size_t)cfg.max_body_bytes, &data, &len, err, sizeof(err)) != 0) {
            char msg[1200];
            snprintf(msg, sizeof(msg), "%s: %s", images[i], err);
            json = response_error_json(msg);
        } else if (pipeline_prepare(pp, &limits, (const uint8_t *)data, len, tensor, err, sizeof(err)) != IMAGE_OK) {
            json = response_error_json(err);
        } else if (model_forward(m, tensor, 1, logits, err, sizeof(err)) != 0) {
            json = response_error_json(err);
        } else {
            json = response_result_json(l, logits, classes, topk);
            free(data);
            printf("%s\n", json ? json : "{\"error\":\"out of memory\"}");
            free(json);
            continue;
        }
        free(data);
        status = 1;
        printf("%s\n", json ? json : "{\"error\":\"out of memory\"}");
        free(json);
    }
done:
    free(tensor);
    free(logits);
    served_model_release(sm);
    config_free(&cfg);
    free(flags);
    free(images);
    return status;
}
