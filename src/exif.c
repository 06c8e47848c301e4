#include "exif.h"

#include <stdlib.h>
#include <string.h>

static uint32_t read_u16(const uint8_t *p, int big_endian) {
    return big_endian ? (uint32_t)p[0] << 8 | p[1] : (uint32_t)p[1] << 8 | p[0];
}

static uint32_t read_u32(const uint8_t *p, int big_endian) {
    return big_endian ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
                      : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int exif_orientation(const uint8_t *exif, size_t len) {
    if (!exif) return 1;
    if (len >= 6 && memcmp(exif, "Exif\0\0", 6) == 0) exif += 6, len -= 6;
    if (len < 8) return 1;
    int big_endian;
    if (memcmp(exif, "II*\0", 4) == 0)
        big_endian = 0;
    else if (memcmp(exif, "MM\0*", 4) == 0)
        big_endian = 1;
    else
        return 1;
    uint32_t ifd = read_u32(exif + 4, big_endian);
    if (ifd > len || len - ifd < 2) return 1;
    uint32_t entries = read_u16(exif + ifd, big_endian);
    for (uint32_t i = 0; i < entries; i++) {
        size_t at = (size_t)ifd + 2 + (size_t)i * 12;
        if (at + 12 > len) return 1;
        const uint8_t *entry = exif + at;
        if (read_u16(entry, big_endian) != 0x0112) continue;
        uint32_t type = read_u16(entry + 2, big_endian), count = read_u32(entry + 4, big_endian);
        /* SHORT is the specified type; LONG is read too, as Pillow reads any
         * integer type. Pillow reads a count above 1 as a tuple, which
         * exif_transpose ignores. */
        uint32_t value;
        if (count != 1) return 1;
        if (type == 3)
            value = read_u16(entry + 8, big_endian);
        else if (type == 4)
            value = read_u32(entry + 8, big_endian);
        else
            return 1;
        return value >= 1 && value <= 8 ? (int)value : 1;
    }
    return 1;
}

int exif_orientation_swaps_axes(int orientation) { return orientation >= 5 && orientation <= 8; }

image_status exif_apply_orientation(image_rgb *img, int orientation) {
    if (orientation < 2 || orientation > 8) return IMAGE_OK;
    size_t w = (size_t)img->width, h = (size_t)img->height;
    int swap = exif_orientation_swaps_axes(orientation);
    size_t ow = swap ? h : w, oh = swap ? w : h;
    uint8_t *out = malloc(w * h * 3);
    if (!out) return IMAGE_ERR_NOMEM;
    for (size_t y = 0; y < oh; y++) {
        uint8_t *dst = out + y * ow * 3;
        for (size_t x = 0; x < ow; x++) {
            size_t sx, sy;
            switch (orientation) {
            case 2: sx = w - 1 - x, sy = y; break;          /* FLIP_LEFT_RIGHT */
            case 3: sx = w - 1 - x, sy = h - 1 - y; break;  /* ROTATE_180 */
            case 4: sx = x, sy = h - 1 - y; break;          /* FLIP_TOP_BOTTOM */
            case 5: sx = y, sy = x; break;                  /* TRANSPOSE */
            case 6: sx = y, sy = h - 1 - x; break;          /* ROTATE_270 */
            case 7: sx = w - 1 - y, sy = h - 1 - x; break;  /* TRANSVERSE */
            default: sx = w - 1 - y, sy = x; break;         /* 8: ROTATE_90 */
            }
            memcpy(dst + x * 3, img->pixels + (sy * w + sx) * 3, 3);
        }
    }
    free(img->pixels);
    img->pixels = out;
    img->width = (int)ow;
    img->height = (int)oh;
    return IMAGE_OK;
}
