/* image: the dispatcher over the per-format decoders (include/image_decoder.h).
 * It owns the table of decoders, format detection, and the size guard that
 * runs between a decoder's info() and its decode(), so that no pixel of an
 * image above the limit is ever decoded. The formats themselves live in
 * src/decode_<format>.c. */
#include "image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exif.h"
#include "image_decoder.h"

/* Sniffing order matters only if two signatures could overlap; none do. */
static const image_decoder *const image_decoders[] = {
    &image_decoder_jpeg,
    &image_decoder_png,
    &image_decoder_gif,
    &image_decoder_bmp,
    &image_decoder_webp,
    &image_decoder_tiff,
    &image_decoder_heif,
    &image_decoder_pnm,
};
#define IMAGE_DECODER_COUNT (sizeof(image_decoders) / sizeof(image_decoders[0]))

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

const image_decoder *image_decoder_find(const uint8_t *data, size_t len) {
    if (!data) return NULL;
    for (size_t i = 0; i < IMAGE_DECODER_COUNT; i++)
        if (image_decoders[i]->sniff(data, len)) return image_decoders[i];
    return NULL;
}

image_format image_detect_format(const uint8_t *data, size_t len) {
    const image_decoder *decoder = image_decoder_find(data, len);
    return decoder ? decoder->format : IMAGE_FORMAT_UNKNOWN;
}

const char *image_format_name(image_format format) {
    switch (format) {
    case IMAGE_FORMAT_JPEG: return "jpeg";
    case IMAGE_FORMAT_PNG: return "png";
    case IMAGE_FORMAT_GIF: return "gif";
    case IMAGE_FORMAT_BMP: return "bmp";
    case IMAGE_FORMAT_WEBP: return "webp";
    case IMAGE_FORMAT_TIFF: return "tiff";
    case IMAGE_FORMAT_PNM: return "pnm";
    case IMAGE_FORMAT_HEIF: return "heif";
    default: return "unknown";
    }
}

void image_rgb_free(image_rgb *img) {
    if (!img) return;
    free(img->pixels);
    img->pixels = NULL;
    img->width = img->height = 0;
}

/* "unsupported image format (accepted: JPEG, PNG, ...)", from the table so
 * that the message cannot fall behind the formats actually compiled in. */
static image_status refuse_unsupported(char *err, size_t errlen) {
    if (!err || !errlen) return IMAGE_ERR_UNSUPPORTED;
    size_t used = (size_t)snprintf(err, errlen, "unsupported image format (accepted: ");
    for (size_t i = 0; i < IMAGE_DECODER_COUNT && used < errlen; i++)
        used += (size_t)snprintf(err + used, errlen - used, "%s%s", i ? ", " : "", image_decoders[i]->name);
    if (used < errlen) snprintf(err + used, errlen - used, ")");
    return IMAGE_ERR_UNSUPPORTED;
}

static image_status check_dimensions(int width, int height, const image_limits *limits, char *err,
                                     size_t errlen) {
    if (width <= 0 || height <= 0) {
        set_err(err, errlen, "image has zero width or height");
        return IMAGE_ERR_CORRUPT;
    }
    uint64_t pixels = (uint64_t)width * (uint64_t)height;
    if (limits && limits->max_pixels && pixels > limits->max_pixels) {
        if (err && errlen)
            snprintf(err, errlen, "image is %dx%d = %llu pixels, above the limit of %llu", width, height,
                     (unsigned long long)pixels, (unsigned long long)limits->max_pixels);
        return IMAGE_ERR_TOO_LARGE;
    }
    /* Even without a configured limit the RGB buffer size must fit in size_t. */
    if (pixels > SIZE_MAX / 3) {
        set_err(err, errlen, "image dimensions overflow");
        return IMAGE_ERR_TOO_LARGE;
    }
    return IMAGE_OK;
}

/* Library messages can quote bytes of the file: keep what reaches a client's
 * JSON and the log printable ASCII. */
static image_status clean_message(image_status status, char *err, size_t errlen) {
    if (status != IMAGE_OK && err && errlen)
        for (char *c = err; *c; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) *c = '?';
    return status;
}

/* Finds the decoder and reads the header; the shared first half of probing
 * and decoding. */
static image_status read_header(const uint8_t *data, size_t len, const image_limits *limits,
                                const image_decoder **decoder_out, image_info *info, char *err, size_t errlen) {
    if (!data || len == 0) {
        set_err(err, errlen, "empty image");
        return IMAGE_ERR_EMPTY;
    }
    const image_decoder *decoder = image_decoder_find(data, len);
    *decoder_out = decoder;
    if (!decoder) return refuse_unsupported(err, errlen);
    memset(info, 0, sizeof(*info));
    info->orientation = 1;
    image_status status = decoder->info(data, len, info, err, errlen);
    if (status != IMAGE_OK) return status;
    return check_dimensions(info->width, info->height, limits, err, errlen);
}

image_status image_probe(const uint8_t *data, size_t len, int *width, int *height,
                         image_format *format_out, char *err, size_t errlen) {
    const image_decoder *decoder = NULL;
    image_info info;
    image_status status = read_header(data, len, NULL, &decoder, &info, err, errlen);
    if (format_out) *format_out = decoder ? decoder->format : IMAGE_FORMAT_UNKNOWN;
    if (status != IMAGE_OK) return clean_message(status, err, errlen);
    *width = info.width;
    *height = info.height;
    return IMAGE_OK;
}

static int orientation_to_apply(const image_limits *limits, const image_info *info) {
    if (!limits || !limits->exif_orientation) return 1;
    return info->orientation >= 2 && info->orientation <= 8 ? info->orientation : 1;
}

image_status image_probe_oriented(const uint8_t *data, size_t len, const image_limits *limits, int *width,
                                  int *height, char *err, size_t errlen) {
    const image_decoder *decoder = NULL;
    image_info info;
    image_status status = read_header(data, len, NULL, &decoder, &info, err, errlen);
    if (status != IMAGE_OK) return clean_message(status, err, errlen);
    int swap = exif_orientation_swaps_axes(orientation_to_apply(limits, &info));
    *width = swap ? info.height : info.width;
    *height = swap ? info.width : info.height;
    return IMAGE_OK;
}

image_status image_decode_window(const uint8_t *data, size_t len, const image_limits *limits,
                                 const image_rect *need, image_window *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    const image_decoder *decoder = NULL;
    image_info info;
    image_status status = read_header(data, len, limits, &decoder, &info, err, errlen);
    if (status != IMAGE_OK) return clean_message(status, err, errlen);

    /* An oriented image is decoded whole: `need` is in oriented coordinates. */
    int orientation = orientation_to_apply(limits, &info);
    status = decoder->decode(data, len, orientation == 1 ? need : NULL, out, err, errlen);
    if (status != IMAGE_OK) {
        image_rgb_free(&out->raster);
        memset(out, 0, sizeof(*out));
        return clean_message(status, err, errlen);
    }
    /* The limit was checked on info()'s dimensions: the pixels must be those. */
    if (out->full_width != info.width || out->full_height != info.height || !out->raster.pixels ||
        out->raster.width <= 0 || out->raster.height <= 0 || out->x < 0 || out->y < 0 ||
        out->x + out->raster.width > out->full_width || out->y + out->raster.height > out->full_height) {
        image_rgb_free(&out->raster);
        memset(out, 0, sizeof(*out));
        if (err && errlen) snprintf(err, errlen, "invalid %s: image dimensions changed while decoding", decoder->name);
        return IMAGE_ERR_CORRUPT;
    }
    if (orientation != 1) {
        if (out->raster.width != out->full_width || out->raster.height != out->full_height) {
            image_rgb_free(&out->raster);
            memset(out, 0, sizeof(*out));
            if (err && errlen) snprintf(err, errlen, "internal error: %s decoded a part of an oriented image", decoder->name);
            return IMAGE_ERR_NOMEM;
        }
        if (exif_apply_orientation(&out->raster, orientation) != IMAGE_OK) {
            image_rgb_free(&out->raster);
            memset(out, 0, sizeof(*out));
            set_err(err, errlen, "out of memory orienting the image");
            return IMAGE_ERR_NOMEM;
        }
        out->full_width = out->raster.width;
        out->full_height = out->raster.height;
    }
    return IMAGE_OK;
}

image_status image_decode_rgb(const uint8_t *data, size_t len, const image_limits *limits,
                              image_rgb *out, char *err, size_t errlen) {
    image_window whole;
    image_status status = image_decode_window(data, len, limits, NULL, &whole, err, errlen);
    *out = whole.raster;
    return status;
}
