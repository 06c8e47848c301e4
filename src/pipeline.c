#include "pipeline.h"

image_status pipeline_prepare(const preprocess *pp, const image_limits *limits, const uint8_t *data, size_t len,
                              float *out, char *err, size_t errlen) {
    image_rgb img;
    image_status status = image_decode_rgb(data, len, limits, &img, err, errlen);
    if (status != IMAGE_OK) return status;
    int rc = preprocess_run(pp, &img, out, err, errlen);
    image_rgb_free(&img);
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
