/* decode_gif: GIF through stb_image, first frame only as Pillow's
 * Image.open shows it; the first frame must be complete, as Pillow requires. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

#include "image_decoder.h"

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static int gif_sniff(const uint8_t *data, size_t len) {
    return len >= 6 && (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0);
}

/* The logical screen: read here so that the size limit is enforced before
 * stb_image allocates anything. */
static image_status gif_info(const uint8_t *data, size_t len, image_info *info, char *err, size_t errlen) {
    if (len < 10) {
        set_err(err, errlen, "invalid GIF: header is truncated");
        return IMAGE_ERR_CORRUPT;
    }
    info->width = data[6] | data[7] << 8;
    info->height = data[8] | data[9] << 8;
    return IMAGE_OK;
}

/* The first frame of a GIF must be complete: PIL refuses a file cut inside
 * it, while stb_image would fill the missing pixels. Walks the blocks up to
 * the end of the first image's data. */
static image_status gif_check_first_frame(const uint8_t *data, size_t len, char *err, size_t errlen) {
    size_t pos = 13;
    if (len < pos) goto truncated;
    if (data[10] & 0x80) pos += (size_t)3 << ((data[10] & 7) + 1); /* global colour table */
    for (;;) {
        if (pos >= len) goto truncated;
        uint8_t block = data[pos++];
        if (block == 0x21) { /* extension: label, then sub-blocks */
            if (pos >= len) goto truncated;
            pos++;
            for (;;) {
                if (pos >= len) goto truncated;
                uint8_t n = data[pos++];
                if (n == 0) break;
                pos += n;
            }
        } else if (block == 0x2C) { /* image descriptor */
            if (pos + 9 > len) goto truncated;
            uint8_t flags = data[pos + 8];
            pos += 9;
            if (flags & 0x80) pos += (size_t)3 << ((flags & 7) + 1); /* local colour table */
            pos++; /* LZW minimum code size */
            for (;;) {
                if (pos >= len) goto truncated;
                uint8_t n = data[pos++];
                if (n == 0) return IMAGE_OK;
                pos += n;
            }
        } else {
            set_err(err, errlen, "invalid GIF: no image in the file");
            return IMAGE_ERR_CORRUPT;
        }
    }
truncated:
    set_err(err, errlen, "invalid GIF: image file is truncated");
    return IMAGE_ERR_CORRUPT;
}

static image_status gif_decode(const uint8_t *data, size_t len, const image_rect *need, image_window *out,
                               char *err, size_t errlen) {
    (void)need;
    if (len > INT_MAX) {
        set_err(err, errlen, "invalid GIF: file too large");
        return IMAGE_ERR_TOO_LARGE;
    }
    image_status status = gif_check_first_frame(data, len, err, errlen);
    if (status != IMAGE_OK) return status;
    /* Asking stb for 3 channels looks up the palette and drops transparency
     * without compositing: PIL's convert('RGB'). */
    int w, h, n;
    uint8_t *rgb = stbi_load_from_memory(data, (int)len, &w, &h, &n, 3);
    if (!rgb) {
        if (err && errlen) snprintf(err, errlen, "invalid GIF: %s", stbi_failure_reason());
        return IMAGE_ERR_CORRUPT;
    }
    /* stb allocates with malloc (STBI_MALLOC default), so free() releases it. */
    out->raster.width = out->full_width = w;
    out->raster.height = out->full_height = h;
    out->raster.pixels = rgb;
    out->x = out->y = 0;
    return IMAGE_OK;
}

const image_decoder image_decoder_gif = {
    .format = IMAGE_FORMAT_GIF,
    .name = "GIF",
    .sniff = gif_sniff,
    .info = gif_info,
    .decode = gif_decode,
};
