/* decode_heif: HEIC (HEVC) and AVIF (AV1) through libheif, the primary image
 * only. Pillow 9.4 cannot open these, so the reference is libheif's own
 * heif-convert writing a PNG that Pillow then reads: this file asks libheif
 * for exactly what heif-convert asks for (RGB, interleaved, with alpha when
 * the image has it; 16-bit big-endian samples above 8 bits) and narrows
 * the way that PNG is read (alpha dropped, 16-bit samples by their high
 * byte). Like heif-convert, libheif's default applies the file's clean
 * aperture, irot and imir: in HEIF they are part of what the image is, and
 * the exif_orientation setting does not change that (EXIF orientation in a
 * HEIF file is not applied at all: the HEIF spec says irot/imir replace it). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libheif/heif.h>

#include "image_decoder.h"

static int heif_sniff(const uint8_t *data, size_t len) {
    if (len < 12 || memcmp(data + 4, "ftyp", 4) != 0) return 0;
    return heif_check_filetype(data, len > INT_MAX ? INT_MAX : (int)len) == heif_filetype_yes_supported;
}

static image_status heif_failed(const char *what, struct heif_error error, char *err, size_t errlen) {
    /* libheif's own size guard (larger than any limit inferd allows) says
     * the file declares too many pixels: the client's 413, not our 500. */
    if (error.subcode == heif_suberror_Security_limit_exceeded) {
        if (err && errlen) snprintf(err, errlen, "HEIC/AVIF image is too large (%s)", error.message ? error.message : "");
        return IMAGE_ERR_TOO_LARGE;
    }
    if (err && errlen) snprintf(err, errlen, "invalid HEIC/AVIF: %s (%s)", what, error.message ? error.message : "");
    if (error.code == heif_error_Memory_allocation_error) return IMAGE_ERR_NOMEM;
    if (error.code == heif_error_Unsupported_feature || error.code == heif_error_Unsupported_filetype) {
        if (err && errlen)
            snprintf(err, errlen, "unsupported HEIC/AVIF variant: %s (accepted: HEVC and AV1 still images)",
                     error.message ? error.message : what);
        return IMAGE_ERR_UNSUPPORTED;
    }
    return IMAGE_ERR_CORRUPT;
}

/* Parses the container (boxes only, no pixel) and finds the primary image. */
static image_status heif_open(const uint8_t *data, size_t len, struct heif_context **ctx_out,
                              struct heif_image_handle **handle_out, char *err, size_t errlen) {
    *ctx_out = NULL;
    *handle_out = NULL;
    struct heif_context *ctx = heif_context_alloc();
    if (!ctx) {
        if (err && errlen) snprintf(err, errlen, "out of memory decoding HEIC/AVIF");
        return IMAGE_ERR_NOMEM;
    }
    struct heif_error error = heif_context_read_from_memory_without_copy(ctx, data, len, NULL);
    /* error.message may point into the context: format it before freeing. */
    if (error.code != heif_error_Ok) {
        image_status status = heif_failed("cannot read the container", error, err, errlen);
        heif_context_free(ctx);
        return status;
    }
    struct heif_image_handle *handle = NULL;
    error = heif_context_get_primary_image_handle(ctx, &handle);
    if (error.code != heif_error_Ok) {
        image_status status = heif_failed("no primary image", error, err, errlen);
        heif_context_free(ctx);
        return status;
    }
    *ctx_out = ctx;
    *handle_out = handle;
    return IMAGE_OK;
}

static image_status heif_info(const uint8_t *data, size_t len, image_info *info, char *err, size_t errlen) {
    struct heif_context *ctx;
    struct heif_image_handle *handle;
    image_status status = heif_open(data, len, &ctx, &handle, err, errlen);
    if (status != IMAGE_OK) return status;
    /* The size after irot/imir/clap, which is what decoding produces. */
    info->width = heif_image_handle_get_width(handle);
    info->height = heif_image_handle_get_height(handle);
    info->orientation = 1;
    heif_image_handle_release(handle);
    heif_context_free(ctx);
    return IMAGE_OK;
}

static image_status heif_decode(const uint8_t *data, size_t len, const image_rect *need, image_window *out,
                                char *err, size_t errlen) {
    (void)need;
    struct heif_context *ctx;
    struct heif_image_handle *handle;
    image_status status = heif_open(data, len, &ctx, &handle, err, errlen);
    if (status != IMAGE_OK) return status;
    int alpha = heif_image_handle_has_alpha_channel(handle);
    int deep = heif_image_handle_get_luma_bits_per_pixel(handle) > 8;
    enum heif_chroma chroma = deep ? (alpha ? heif_chroma_interleaved_RRGGBBAA_BE : heif_chroma_interleaved_RRGGBB_BE)
                                   : (alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB);
    size_t channels = alpha ? 4 : 3, sample_bytes = deep ? 2 : 1;
    struct heif_image *image = NULL;
    uint8_t *rgb = NULL;
    struct heif_error error = heif_decode_image(handle, &image, heif_colorspace_RGB, chroma, NULL);
    if (error.code != heif_error_Ok) {
        status = heif_failed("the image does not decode", error, err, errlen);
        goto done;
    }
    int width = heif_image_get_width(image, heif_channel_interleaved);
    int height = heif_image_get_height(image, heif_channel_interleaved);
    int stride = 0;
    const uint8_t *plane = heif_image_get_plane_readonly(image, heif_channel_interleaved, &stride);
    if (!plane || width <= 0 || height <= 0 || stride < 0 ||
        (size_t)stride < (size_t)width * channels * sample_bytes) {
        status = IMAGE_ERR_CORRUPT;
        if (err && errlen) snprintf(err, errlen, "invalid HEIC/AVIF: unexpected decoded image layout");
        goto done;
    }
    /* heif-convert writes a 16-bit PNG with the samples scaled to 16 bits;
     * Pillow reads that PNG's RGB as the high byte of each sample. */
    int bits = deep ? heif_image_get_bits_per_pixel_range(image, heif_channel_interleaved) : 8;
    if (bits < 8 || bits > 16) {
        status = IMAGE_ERR_UNSUPPORTED;
        if (err && errlen) snprintf(err, errlen, "unsupported HEIC/AVIF variant: %d-bit samples", bits);
        goto done;
    }
    rgb = malloc((size_t)width * (size_t)height * 3);
    if (!rgb) {
        status = IMAGE_ERR_NOMEM;
        if (err && errlen) snprintf(err, errlen, "out of memory decoding HEIC/AVIF");
        goto done;
    }
    for (size_t y = 0; y < (size_t)height; y++) {
        const uint8_t *src = plane + y * (size_t)stride;
        uint8_t *dst = rgb + y * (size_t)width * 3;
        for (size_t x = 0; x < (size_t)width; x++, src += channels * sample_bytes, dst += 3) {
            if (!deep) {
                memcpy(dst, src, 3);
                continue;
            }
            for (int c = 0; c < 3; c++) {
                unsigned v = (unsigned)src[2 * c] << 8 | src[2 * c + 1];
                dst[c] = (uint8_t)(((v << (16 - bits)) & 0xFFFF) >> 8);
            }
        }
    }
    out->raster.width = out->full_width = width;
    out->raster.height = out->full_height = height;
    out->raster.pixels = rgb;
    out->x = out->y = 0;
    rgb = NULL;
    status = IMAGE_OK;
done:
    free(rgb);
    if (image) heif_image_release(image);
    heif_image_handle_release(handle);
    heif_context_free(ctx);
    return status;
}

const image_decoder image_decoder_heif = {
    .format = IMAGE_FORMAT_HEIF,
    .name = "HEIC/AVIF",
    .sniff = heif_sniff,
    .info = heif_info,
    .decode = heif_decode,
};
