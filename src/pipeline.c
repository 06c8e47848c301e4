#include "pipeline.h"

image_status pipeline_prepare(const preprocess *pp, const image_limits *limits, const uint8_t *data, size_t len,
                              float *out, char *err, size_t errlen) {
    /* The header says the size, the size says which pixels the crop reads,
     * and only those need decoding (a JPEG's crop window is ~60% of it). */
    int width, height;
    image_status status = image_probe_oriented(data, len, limits, &width, &height, err, errlen);
    if (status != IMAGE_OK) return status;
    image_rect need;
    /* A size preprocessing cannot handle is the client's image, not a server
     * fault: refuse it (413) before decoding a single pixel. */
    if (preprocess_source_rect(pp, width, height, &need, err, errlen) != 0) return IMAGE_ERR_TOO_LARGE;
    image_window img;
    status = image_decode_window(data, len, limits, &need, &img, err, errlen);
    if (status != IMAGE_OK) return status;
    int rc = preprocess_run_window(pp, &img, out, err, errlen);
    image_rgb_free(&img.raster);
    return rc == 0 ? IMAGE_OK : IMAGE_ERR_NOMEM;
}

int pipeline_http_status(image_status status) {
    switch (status) {
    case IMAGE_OK: return 200;
    case IMAGE_ERR_EMPTY: return 400;
    case IMAGE_ERR_UNSUPPORTED: return 415;
    case IMAGE_ERR_CORRUPT: return 400;
    case IMAGE_ERR_TOO_LARGE: return 413;
    case IMAGE_ERR_NOMEM: return 500;
    }
    return 500;
}
