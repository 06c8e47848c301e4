/* decode_bmp: BMP through stb_image — a stand-in kept only until the bmppnm
 * branch's own decoder (every BMP Pillow opens, RLE included) replaces this
 * file; the symbol image_decoder_bmp and the file name are the contract. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

#include "image_decoder.h"

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static int bmp_sniff(const uint8_t *data, size_t len) { return len >= 2 && data[0] == 'B' && data[1] == 'M'; }

/* The info header, read here so that the size limit is enforced before
 * stb_image allocates anything. */
static image_status bmp_info(const uint8_t *data, size_t len, image_info *info, char *err, size_t errlen) {
    if (len < 26) {
        set_err(err, errlen, "invalid BMP: header is truncated");
        return IMAGE_ERR_CORRUPT;
    }
    uint32_t header_size = (uint32_t)data[14] | (uint32_t)data[15] << 8 | (uint32_t)data[16] << 16 | (uint32_t)data[17] << 24;
    if (header_size == 12) { /* OS/2 BITMAPCOREHEADER: 16-bit sizes */
        info->width = data[18] | data[19] << 8;
        info->height = data[20] | data[21] << 8;
        return IMAGE_OK;
    }
    int32_t w = (int32_t)((uint32_t)data[18] | (uint32_t)data[19] << 8 | (uint32_t)data[20] << 16 | (uint32_t)data[21] << 24);
    int32_t h = (int32_t)((uint32_t)data[22] | (uint32_t)data[23] << 8 | (uint32_t)data[24] << 16 | (uint32_t)data[25] << 24);
    if (h == INT32_MIN || w < 0) {
        set_err(err, errlen, "invalid BMP: bad dimensions");
        return IMAGE_ERR_CORRUPT;
    }
    info->width = w;
    info->height = h < 0 ? -h : h; /* negative height: top-down rows */
    return IMAGE_OK;
}

/* Uncompressed BMP pixel data must all be there: PIL refuses truncated files
 * (it tolerates only the last row's padding missing), while stb_image would
 * silently fill the rest with zeros. */
static image_status bmp_check_complete(const uint8_t *data, size_t len, int width, int height, char *err,
                                       size_t errlen) {
    if (len < 34) return IMAGE_OK;
    uint32_t header_size = (uint32_t)data[14] | (uint32_t)data[15] << 8 | (uint32_t)data[16] << 16 | (uint32_t)data[17] << 24;
    if (header_size < 40) return IMAGE_OK;
    uint32_t offset = (uint32_t)data[10] | (uint32_t)data[11] << 8 | (uint32_t)data[12] << 16 | (uint32_t)data[13] << 24;
    uint32_t bpp = (uint32_t)data[28] | (uint32_t)data[29] << 8;
    uint32_t compression = (uint32_t)data[30] | (uint32_t)data[31] << 8 | (uint32_t)data[32] << 16 | (uint32_t)data[33] << 24;
    if ((compression != 0 && compression != 3) || bpp == 0 || bpp > 32) return IMAGE_OK;
    uint64_t row = (((uint64_t)width * bpp + 31) / 32) * 4;
    uint64_t last_row = ((uint64_t)width * bpp + 7) / 8;
    if ((uint64_t)offset + row * (uint64_t)(height - 1) + last_row > len) {
        set_err(err, errlen, "invalid BMP: image file is truncated");
        return IMAGE_ERR_CORRUPT;
    }
    return IMAGE_OK;
}

static image_status bmp_decode(const uint8_t *data, size_t len, const image_rect *need, image_window *out,
                               char *err, size_t errlen) {
    (void)need;
    if (len > INT_MAX) {
        set_err(err, errlen, "invalid BMP: file too large");
        return IMAGE_ERR_TOO_LARGE;
    }
    image_info header;
    image_status status = bmp_info(data, len, &header, err, errlen);
    if (status == IMAGE_OK && (header.width <= 0 || header.height <= 0)) {
        set_err(err, errlen, "invalid BMP: zero width or height");
        status = IMAGE_ERR_CORRUPT;
    }
    if (status == IMAGE_OK) status = bmp_check_complete(data, len, header.width, header.height, err, errlen);
    if (status != IMAGE_OK) return status;
    /* Asking stb for 3 channels looks up palettes and drops alpha without
     * compositing: PIL's convert('RGB'). */
    int w, h, n;
    uint8_t *rgb = stbi_load_from_memory(data, (int)len, &w, &h, &n, 3);
    if (!rgb) {
        if (err && errlen) snprintf(err, errlen, "invalid BMP: %s", stbi_failure_reason());
        return IMAGE_ERR_CORRUPT;
    }
    /* stb allocates with malloc (STBI_MALLOC default), so free() releases it. */
    out->raster.width = out->full_width = w;
    out->raster.height = out->full_height = h;
    out->raster.pixels = rgb;
    out->x = out->y = 0;
    return IMAGE_OK;
}

const image_decoder image_decoder_bmp = {
    .format = IMAGE_FORMAT_BMP,
    .name = "BMP",
    .sniff = bmp_sniff,
    .info = bmp_info,
    .decode = bmp_decode,
};
