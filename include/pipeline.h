/* pipeline: the per-image work before the model, shared by the server and
 * the CLI so both run exactly the same steps: decode (image) then
 * resize/crop/normalise (preprocess) into a caller-owned tensor. */
#ifndef INFERD_PIPELINE_H
#define INFERD_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"
#include "preprocess.h"

/* Returns IMAGE_OK with out filled, or the decode error; IMAGE_ERR_TOO_LARGE
 * also covers an image too elongated to resize (checked before decoding),
 * IMAGE_ERR_NOMEM a preprocessing failure. */
image_status pipeline_prepare(const preprocess *pp, const image_limits *limits, const uint8_t *data, size_t len,
                              float *out, char *err, size_t errlen);

/* The HTTP status a client gets for an image error. */
int pipeline_http_status(image_status status);

#endif
