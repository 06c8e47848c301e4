/* image: turns client bytes into an 8-bit RGB raster, exactly as PIL's
 * Image.open(...).convert('RGB') would. Owns format detection over the table
 * of per-format decoders (include/image_decoder.h, src/decode_<format>.c), and
 * the size guard that runs between a decoder's header read and its pixels, so
 * no pixel of an over-limit image is decoded. A JPEG may be decoded only
 * around the part preprocessing reads. It does not resize or normalise: that
 * is preprocess's job. */
#ifndef INFERD_IMAGE_H
#define INFERD_IMAGE_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    IMAGE_OK = 0,
    IMAGE_ERR_EMPTY,       /* no bytes at all */
    IMAGE_ERR_UNSUPPORTED, /* not a format inferd accepts (HTTP 415) */
    IMAGE_ERR_CORRUPT,     /* an accepted format that fails to decode (400) */
    IMAGE_ERR_TOO_LARGE,   /* more pixels than the configured limit (413) */
    IMAGE_ERR_NOMEM        /* allocation failed (500) */
} image_status;

typedef enum {
    IMAGE_FORMAT_UNKNOWN = 0,
    IMAGE_FORMAT_JPEG,
    IMAGE_FORMAT_PNG,
    IMAGE_FORMAT_GIF,
    IMAGE_FORMAT_BMP,
    IMAGE_FORMAT_WEBP,
    IMAGE_FORMAT_TIFF,
    IMAGE_FORMAT_PNM,  /* PBM, PGM, PPM */
    IMAGE_FORMAT_HEIF  /* HEIC and AVIF, both through libheif */
} image_format;

/* Interleaved RGB, 3 bytes a pixel, rows packed without padding. */
typedef struct {
    int width;
    int height;
    uint8_t *pixels;
} image_rgb;

/* A rectangle in pixel coordinates of the whole image. */
typedef struct {
    int x, y, width, height;
} image_rect;

/* Part of an image: raster holds columns [x, x + raster.width) and rows
 * [y, y + raster.height) of an image of full_width x full_height. */
typedef struct {
    image_rgb raster;
    int x, y;
    int full_width, full_height;
} image_window;

/* What the configuration asks of decoding. */
typedef struct {
    uint64_t max_pixels; /* width*height above this is refused before decoding; 0 = no limit */
    /* 1: apply the file's EXIF orientation (2..8) as PIL.ImageOps.exif_transpose
     * does, for JPEG, PNG, WebP and TIFF; 0: ignore it, as Image.open does. */
    int exif_orientation;
} image_limits;

/* Sniffs the format from the leading magic bytes. */
image_format image_detect_format(const uint8_t *data, size_t len);
const char *image_format_name(image_format format);

/* Reads width and height from the header only. */
image_status image_probe(const uint8_t *data, size_t len, int *width, int *height,
                         image_format *format, char *err, size_t errlen);

/* Width and height of the image that decoding under `limits` produces:
 * swapped when limits->exif_orientation applies an orientation of 5..8.
 * Reads the header only. */
image_status image_probe_oriented(const uint8_t *data, size_t len, const image_limits *limits, int *width,
                                  int *height, char *err, size_t errlen);

/* Decodes to RGB. On success the caller owns out->pixels (image_rgb_free). */
image_status image_decode_rgb(const uint8_t *data, size_t len, const image_limits *limits,
                              image_rgb *out, char *err, size_t errlen);

/* Decodes at least the pixels of `need` (NULL: all of them), exactly as a
 * whole decode would, and may skip the rest: JPEG (libjpeg-turbo) decodes
 * only the iMCU rows and columns around `need` (plus a margin, since fancy
 * upsampling reads neighbours) and entropy-decodes the remainder just to
 * validate it, so a corrupt or truncated file is refused as PIL refuses it.
 * Other formats decode whole. When limits->exif_orientation applies an
 * orientation, the whole image is decoded and transposed, and `need` and
 * out are in the oriented image's coordinates. On success the caller owns
 * out->raster. */
image_status image_decode_window(const uint8_t *data, size_t len, const image_limits *limits,
                                 const image_rect *need, image_window *out, char *err, size_t errlen);

void image_rgb_free(image_rgb *img);

#endif
