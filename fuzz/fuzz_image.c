/* Fuzzes client image bytes -> decode -> preprocess: the path every upload
 * takes. Any crash, leak, overflow or UB is a finding; errors are fine. */
#include <stdint.h>
#include <stdlib.h>

#include "pipeline.h"

static preprocess *pp, *pp_bicubic;
static float *tensor, *tensor_bicubic;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    preprocess_config cfg;
    preprocess_config_default(&cfg);
    char err[256];
    if (preprocess_create(&cfg, &pp, err, sizeof(err)) != 0) abort();
    tensor = malloc(sizeof(float) * preprocess_tensor_len(pp));
    if (!tensor) abort();
    /* The other filter and geometry: bicubic, Resize([256, 320]), a
     * non-square crop. */
    cfg.interpolation = PREPROCESS_BICUBIC;
    cfg.resize_short = 0;
    cfg.resize_height = 256;
    cfg.resize_width = 320;
    cfg.crop_height = 224;
    cfg.crop_width = 288;
    if (preprocess_create(&cfg, &pp_bicubic, err, sizeof(err)) != 0) abort();
    tensor_bicubic = malloc(sizeof(float) * preprocess_tensor_len(pp_bicubic));
    if (!tensor_bicubic) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The server's default pixel limit, lowered so that the fuzzer spends its
     * time in parsers rather than in huge valid allocations. */
    image_limits limits = {.max_pixels = 4u << 20};
    char err[256];
    pipeline_prepare(pp, &limits, data, size, tensor, err, sizeof(err));
    pipeline_prepare(pp_bicubic, &limits, data, size, tensor_bicubic, err, sizeof(err));
    int w, h;
    image_format f;
    image_probe(data, size, &w, &h, &f, err, sizeof(err));
    return 0;
}
