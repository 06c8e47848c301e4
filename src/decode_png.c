/* decode_png: PNG through libpng, which verifies chunk CRCs, the zlib stream
 * and its checksum, and truncation, as Pillow does (stb_image checks none of
 * them), converting as Pillow's convert('RGB') does. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "exif.h"
#include "image_decoder.h"

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static int png_sniff(const uint8_t *data, size_t len) {
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    return len >= 8 && memcmp(data, png_magic, 8) == 0;
}

typedef struct {
    const uint8_t *data;
    size_t len, pos;
} png_source;

typedef struct {
    jmp_buf escape;
    char message[192];
} png_error_state;

static void png_read_from_memory(png_structp png, png_bytep out, png_size_t n) {
    png_source *src = png_get_io_ptr(png);
    if (n > src->len - src->pos) png_error(png, "image file is truncated");
    memcpy(out, src->data + src->pos, n);
    src->pos += n;
}

static void png_on_error(png_structp png, png_const_charp msg) {
    png_error_state *state = png_get_error_ptr(png);
    snprintf(state->message, sizeof(state->message), "%s", msg);
    longjmp(state->escape, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static uint32_t read_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The orientation in an eXIf chunk, before or after the image data: Pillow
 * reads both (getexif loads the whole file for the latter). Walks chunk
 * headers only; the first eXIf counts. */
static int png_find_orientation(const uint8_t *data, size_t len) {
    size_t pos = 8;
    while (pos + 8 <= len) {
        uint32_t chunk_len = read_be32(data + pos);
        const uint8_t *type = data + pos + 4;
        if (chunk_len > len - pos - 8) return 1;
        if (memcmp(type, "eXIf", 4) == 0) return exif_orientation(data + pos + 8, chunk_len);
        if (memcmp(type, "IEND", 4) == 0) return 1;
        pos += (size_t)chunk_len + 12;
    }
    return 1;
}

/* Reads the header only: dimensions for the limit check and probing. */
static image_status png_header_info(const uint8_t *data, size_t len, image_info *info, char *err, size_t errlen) {
    if (len < 24 || memcmp(data + 12, "IHDR", 4) != 0) {
        set_err(err, errlen, "invalid PNG: no IHDR header");
        return IMAGE_ERR_CORRUPT;
    }
    uint32_t w = read_be32(data + 16), h = read_be32(data + 20);
    if (w > INT32_MAX || h > INT32_MAX) {
        set_err(err, errlen, "invalid PNG: dimensions out of range");
        return IMAGE_ERR_CORRUPT;
    }
    info->width = (int)w;
    info->height = (int)h;
    info->orientation = png_find_orientation(data, len);
    return IMAGE_OK;
}

static image_status png_decode(const uint8_t *data, size_t len, const image_rect *need, image_window *out,
                               char *err, size_t errlen) {
    (void)need;
    image_info header;
    image_status status = png_header_info(data, len, &header, err, errlen);
    if (status != IMAGE_OK) return status;
    int w = header.width, h = header.height;
    if (w <= 0 || h <= 0 || (uint64_t)w * (uint64_t)h > SIZE_MAX / 3) {
        set_err(err, errlen, "invalid PNG: bad dimensions");
        return IMAGE_ERR_CORRUPT;
    }


    png_error_state state;
    png_source src = {data, len, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    uint8_t *volatile pixels = NULL;
    uint16_t *volatile row16 = NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        set_err(err, errlen, "out of memory decoding PNG");
        return IMAGE_ERR_NOMEM;
    }
    if (setjmp(state.escape)) {
        if (err && errlen) snprintf(err, errlen, "invalid PNG: %s", state.message);
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(row16);
        return IMAGE_ERR_CORRUPT;
    }
    png_set_read_fn(png, &src, png_read_from_memory);
    /* Our own limit was checked above; lift libpng's default 1M-pixel cap. */
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_read_info(png, info);
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    /* PIL opens 16-bit grayscale as mode "I" and convert('RGB') clips each
     * value to 255 instead of scaling; every other 16-bit PNG keeps the high
     * byte of each sample. */
    int gray16 = color == PNG_COLOR_TYPE_GRAY && depth == 16;
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (!gray16) {
        if (depth == 16) png_set_strip_16(png);
        if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
        /* Alpha (and palette transparency, which is never expanded) is dropped, not composited. */
        if ((color & PNG_COLOR_MASK_ALPHA) || png_get_valid(png, info, PNG_INFO_tRNS)) png_set_strip_alpha(png);
    } else {
        png_set_swap(png); /* 16-bit samples in host order */
    }
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);

    size_t row_bytes = png_get_rowbytes(png, info);
    size_t width = (size_t)w, height = (size_t)h;
    if (row_bytes != (gray16 ? width * 2 : width * 3)) png_error(png, "unexpected row layout");
    pixels = malloc(width * height * 3);
    if (!pixels) png_error(png, "out of memory");
    if (gray16) {
        /* Interlaced 16-bit gray needs whole-image rows kept between passes. */
        row16 = malloc(width * height * sizeof(uint16_t));
        if (!row16) png_error(png, "out of memory");
        for (int pass = 0; pass < passes; pass++)
            for (size_t y = 0; y < height; y++) png_read_row(png, (png_bytep)(row16 + y * width), NULL);
        for (size_t i = 0; i < width * height; i++) {
            uint8_t v = row16[i] > 255 ? 255 : (uint8_t)row16[i];
            pixels[3 * i] = pixels[3 * i + 1] = pixels[3 * i + 2] = v;
        }
    } else {
        for (int pass = 0; pass < passes; pass++)
            for (size_t y = 0; y < height; y++) png_read_row(png, pixels + y * width * 3, NULL);
    }
    /* Like PIL, the chunks after the image data (IEND) are not required. */
    png_destroy_read_struct(&png, &info, NULL);
    free(row16);
    out->raster.width = out->full_width = w;
    out->raster.height = out->full_height = h;
    out->raster.pixels = pixels;
    out->x = out->y = 0;
    return IMAGE_OK;
}

const image_decoder image_decoder_png = {
    .format = IMAGE_FORMAT_PNG,
    .name = "PNG",
    .sniff = png_sniff,
    .info = png_header_info,
    .decode = png_decode,
};
