#include "image.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <stb_image.h>

#ifdef INFERD_JPEG_TURBO
#include <jpeglib.h>
#include <jerror.h>
#endif

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

image_format image_detect_format(const uint8_t *data, size_t len) {
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return IMAGE_FORMAT_JPEG;
    if (len >= 8 && memcmp(data, png_magic, 8) == 0) return IMAGE_FORMAT_PNG;
    if (len >= 6 && (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0))
        return IMAGE_FORMAT_GIF;
    if (len >= 2 && data[0] == 'B' && data[1] == 'M') return IMAGE_FORMAT_BMP;
    return IMAGE_FORMAT_UNKNOWN;
}

const char *image_format_name(image_format format) {
    switch (format) {
    case IMAGE_FORMAT_JPEG: return "jpeg";
    case IMAGE_FORMAT_PNG: return "png";
    case IMAGE_FORMAT_GIF: return "gif";
    case IMAGE_FORMAT_BMP: return "bmp";
    default: return "unknown";
    }
}

void image_rgb_free(image_rgb *img) {
    if (!img) return;
    free(img->pixels);
    img->pixels = NULL;
    img->width = img->height = 0;
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

#ifdef INFERD_JPEG_TURBO
/* libjpeg reports fatal errors through error_exit, which must not return:
 * we longjmp back to the decode call, the documented way to use it from C. */
typedef struct {
    struct jpeg_error_mgr mgr;
    jmp_buf escape;
    int truncated;
    char message[JMSG_LENGTH_MAX];
} jpeg_error_state;

static void jpeg_error_exit(j_common_ptr cinfo) {
    jpeg_error_state *state = (jpeg_error_state *)cinfo->err;
    cinfo->err->format_message(cinfo, state->message);
    longjmp(state->escape, 1);
}

/* Warnings are not printed (a client must not be able to flood the log).
 * Premature end of data is refused as PIL refuses truncated files; so is
 * entropy-coded data libjpeg had to skip or resynchronise over, because what
 * it then decodes is partly invented and the class would be meaningless. */
static void jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
    jpeg_error_state *state = (jpeg_error_state *)cinfo->err;
    if (msg_level >= 0) return;
    switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
        state->truncated = 1;
        cinfo->err->format_message(cinfo, state->message);
        break;
    default: break;
    }
}

/* PIL's cmyk2rgb: r = 255 - min(255, c + k) done in its fixed-point form. */
static uint8_t pil_cmyk_channel(int c, int k) {
    int nk = 255 - k;
    int tmp = c * nk + 128;
    int v = nk - (((tmp >> 8) + tmp) >> 8);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* The columns and rows decode_jpeg decompresses for `need`: whole iMCU
 * columns (jpeg_crop_scanline aligns the left edge), widened by one iMCU
 * column each side because fancy upsampling at a crop edge has no neighbour
 * to interpolate with and differs from a whole decode there. Rows need no
 * margin: jpeg_skip_scanlines keeps the upsampler's context rows. */
static void jpeg_window(const struct jpeg_decompress_struct *cinfo, const image_rect *need, JDIMENSION *x0,
                        JDIMENSION *x1, JDIMENSION *y0, JDIMENSION *y1) {
    JDIMENSION width = cinfo->output_width, height = cinfo->output_height;
    *x0 = 0, *x1 = width, *y0 = 0, *y1 = height;
    if (!need || need->width <= 0 || need->height <= 0) return;
    JDIMENSION margin = (JDIMENSION)cinfo->max_h_samp_factor * DCTSIZE;
    JDIMENSION nx0 = need->x > 0 ? (JDIMENSION)need->x : 0, ny0 = need->y > 0 ? (JDIMENSION)need->y : 0;
    JDIMENSION nx1 = (JDIMENSION)need->x + (JDIMENSION)need->width;
    JDIMENSION ny1 = (JDIMENSION)need->y + (JDIMENSION)need->height;
    if (nx0 >= width || ny0 >= height) return;
    *x0 = nx0 > margin ? nx0 - margin : 0;
    *x1 = nx1 + margin < width ? nx1 + margin : width;
    *y0 = ny0;
    *y1 = ny1 < height ? ny1 : height;
}

static image_status decode_jpeg(const uint8_t *data, size_t len, const image_limits *limits, const image_rect *need,
                                image_window *out, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    jpeg_error_state jerr;
    /* volatile: these are read after a longjmp back into this frame. */
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile spare_row = NULL; /* a CMYK row, or the last row read only to validate */
    image_status volatile status = IMAGE_ERR_CORRUPT;

    memset(&jerr, 0, sizeof(jerr));
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = jpeg_error_exit;
    jerr.mgr.emit_message = jpeg_emit_message;
    if (setjmp(jerr.escape)) {
        if (err && errlen) snprintf(err, errlen, "invalid JPEG: %s", jerr.message);
        goto fail;
    }
    jpeg_create_decompress(&cinfo);
    if (len > ULONG_MAX) {
        set_err(err, errlen, "JPEG too large");
        goto fail;
    }
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);

    status = check_dimensions((int)cinfo.image_width, (int)cinfo.image_height, limits, err, errlen);
    if (status != IMAGE_OK) goto fail;
    status = IMAGE_ERR_CORRUPT;

    /* Same decoder settings as PIL: ISLOW DCT, fancy upsampling (libjpeg defaults). */
    int is_cmyk = cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK;
    cinfo.out_color_space = is_cmyk ? JCS_CMYK : JCS_RGB;
    cinfo.dct_method = JDCT_ISLOW;
    cinfo.do_fancy_upsampling = TRUE;
    jpeg_start_decompress(&cinfo);

    int full_width = (int)cinfo.output_width, full_height = (int)cinfo.output_height;
    JDIMENSION x0, x1, y0, y1;
    jpeg_window(&cinfo, need, &x0, &x1, &y0, &y1);
    JDIMENSION crop_x = x0, crop_width = x1 - x0;
    if (crop_width < cinfo.output_width) jpeg_crop_scanline(&cinfo, &crop_x, &crop_width);
    if (y0 > 0) jpeg_skip_scanlines(&cinfo, y0);

    size_t width = cinfo.output_width, rows = y1 - y0;
    pixels = malloc(width * rows * 3); /* rows >= 1: jpeg_window never returns an empty window */
    spare_row = malloc(width * 4);
    if (!pixels || !spare_row) {
        status = IMAGE_ERR_NOMEM;
        set_err(err, errlen, "out of memory decoding JPEG");
        goto fail;
    }
    /* PIL reads Adobe CMYK JPEGs as inverted ("CMYK;I"). */
    int inverted = is_cmyk && cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < y1 && !jerr.truncated) {
        uint8_t *dst = pixels + (size_t)(cinfo.output_scanline - y0) * width * 3;
        if (!is_cmyk) {
            /* Several rows per call: libjpeg upsamples in row groups, and
             * one row at a time costs it an extra copy. */
            JSAMPROW rowp[16];
            JDIMENSION want = y1 - cinfo.output_scanline;
            if (want > 16) want = 16;
            for (JDIMENSION r = 0; r < want; r++) rowp[r] = dst + (size_t)r * width * 3;
            jpeg_read_scanlines(&cinfo, rowp, want);
        } else {
            JSAMPROW row = spare_row;
            jpeg_read_scanlines(&cinfo, &row, 1);
            for (size_t x = 0; x < width; x++) {
                int c = row[4 * x], m = row[4 * x + 1], y = row[4 * x + 2], k = row[4 * x + 3];
                if (inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
                dst[3 * x] = pil_cmyk_channel(c, k);
                dst[3 * x + 1] = pil_cmyk_channel(m, k);
                dst[3 * x + 2] = pil_cmyk_channel(y, k);
            }
        }
    }
    /* The rows below the window are still entropy-decoded, so a file that is
     * corrupt or cut short there is refused like PIL refuses it. Skipping to
     * the very end would not read them (libjpeg then just marks the end
     * reached): skip all but the last row and read that one. */
    if (!jerr.truncated && cinfo.output_scanline + 1 < cinfo.output_height)
        jpeg_skip_scanlines(&cinfo, cinfo.output_height - 1 - cinfo.output_scanline);
    if (!jerr.truncated && cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = spare_row;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    if (!jerr.truncated) jpeg_finish_decompress(&cinfo);
    if (jerr.truncated) {
        if (err && errlen) snprintf(err, errlen, "invalid JPEG: corrupt or truncated data (%s)", jerr.message);
        goto fail;
    }
    jpeg_destroy_decompress(&cinfo);
    free(spare_row);
    out->raster.width = (int)width;
    out->raster.height = (int)rows;
    out->raster.pixels = pixels;
    out->x = (int)crop_x;
    out->y = (int)y0;
    out->full_width = full_width;
    out->full_height = full_height;
    return IMAGE_OK;

fail:
    jpeg_destroy_decompress(&cinfo);
    free(pixels);
    free(spare_row);
    return status;
}
#endif

/* ---- PNG: libpng, which verifies chunk CRCs, the zlib stream and its
 * checksum, and truncation, as Pillow does (stb_image checks none of them). */

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

/* Reads the header only: dimensions for the limit check and probing. */
static image_status png_header(const uint8_t *data, size_t len, int *width, int *height, char *err, size_t errlen) {
    if (len < 24 || memcmp(data + 12, "IHDR", 4) != 0) {
        set_err(err, errlen, "invalid PNG: no IHDR header");
        return IMAGE_ERR_CORRUPT;
    }
    uint32_t w = (uint32_t)data[16] << 24 | (uint32_t)data[17] << 16 | (uint32_t)data[18] << 8 | data[19];
    uint32_t h = (uint32_t)data[20] << 24 | (uint32_t)data[21] << 16 | (uint32_t)data[22] << 8 | data[23];
    if (w > INT32_MAX || h > INT32_MAX) {
        set_err(err, errlen, "invalid PNG: dimensions out of range");
        return IMAGE_ERR_CORRUPT;
    }
    *width = (int)w;
    *height = (int)h;
    return IMAGE_OK;
}

static image_status decode_png(const uint8_t *data, size_t len, const image_limits *limits, image_rgb *out,
                               char *err, size_t errlen) {
    int w, h;
    image_status status = png_header(data, len, &w, &h, err, errlen);
    if (status == IMAGE_OK) status = check_dimensions(w, h, limits, err, errlen);
    if (status != IMAGE_OK) return status;

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
    out->width = w;
    out->height = h;
    out->pixels = pixels;
    return IMAGE_OK;
}

/* GIF logical screen and BMP info header: read here so that the size limit
 * is enforced before stb_image allocates anything, and so that huge sizes
 * report "too large" rather than stb's generic failure. */
static image_status stb_header(const uint8_t *data, size_t len, image_format format, int *width, int *height,
                               char *err, size_t errlen) {
    if (format == IMAGE_FORMAT_GIF) {
        if (len < 10) goto short_header;
        *width = data[6] | data[7] << 8;
        *height = data[8] | data[9] << 8;
        return IMAGE_OK;
    }
    /* BMP */
    if (len < 26) goto short_header;
    uint32_t header_size = (uint32_t)data[14] | (uint32_t)data[15] << 8 | (uint32_t)data[16] << 16 | (uint32_t)data[17] << 24;
    if (header_size == 12) { /* OS/2 BITMAPCOREHEADER: 16-bit sizes */
        *width = data[18] | data[19] << 8;
        *height = data[20] | data[21] << 8;
        return IMAGE_OK;
    }
    int32_t w = (int32_t)((uint32_t)data[18] | (uint32_t)data[19] << 8 | (uint32_t)data[20] << 16 | (uint32_t)data[21] << 24);
    int32_t h = (int32_t)((uint32_t)data[22] | (uint32_t)data[23] << 8 | (uint32_t)data[24] << 16 | (uint32_t)data[25] << 24);
    if (h == INT32_MIN || w < 0) {
        set_err(err, errlen, "invalid BMP: bad dimensions");
        return IMAGE_ERR_CORRUPT;
    }
    *width = w;
    *height = h < 0 ? -h : h; /* negative height: top-down rows */
    return IMAGE_OK;
short_header:
    if (err && errlen) snprintf(err, errlen, "invalid %s: header is truncated", image_format_name(format));
    return IMAGE_ERR_CORRUPT;
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

static image_status decode_stb(const uint8_t *data, size_t len, image_format format,
                               const image_limits *limits, image_rgb *out, char *err,
                               size_t errlen) {
    if (len > INT_MAX) {
        set_err(err, errlen, "image file too large");
        return IMAGE_ERR_TOO_LARGE;
    }
    int w, h;
    image_status status = stb_header(data, len, format, &w, &h, err, errlen);
    if (status == IMAGE_OK) status = check_dimensions(w, h, limits, err, errlen);
    if (status == IMAGE_OK && format == IMAGE_FORMAT_BMP) status = bmp_check_complete(data, len, w, h, err, errlen);
    if (status == IMAGE_OK && format == IMAGE_FORMAT_GIF) status = gif_check_first_frame(data, len, err, errlen);
    if (status != IMAGE_OK) return status;

    /* Asking stb for 3 channels replicates gray, looks up palettes and drops
     * alpha without compositing: PIL's convert('RGB'). */
    int dw, dh, dn;
    uint8_t *rgb = stbi_load_from_memory(data, (int)len, &dw, &dh, &dn, 3);
    if (!rgb) {
        if (err && errlen) snprintf(err, errlen, "invalid %s: %s", image_format_name(format), stbi_failure_reason());
        return IMAGE_ERR_CORRUPT;
    }
    if (dw != w || dh != h) {
        stbi_image_free(rgb);
        set_err(err, errlen, "image dimensions changed while decoding");
        return IMAGE_ERR_CORRUPT;
    }
    /* stb allocates with malloc (STBI_MALLOC default), so free() releases it. */
    out->width = dw;
    out->height = dh;
    out->pixels = rgb;
    return IMAGE_OK;
}

image_status image_probe(const uint8_t *data, size_t len, int *width, int *height,
                         image_format *format_out, char *err, size_t errlen) {
    if (!data || len == 0) {
        set_err(err, errlen, "empty image");
        return IMAGE_ERR_EMPTY;
    }
    image_format format = image_detect_format(data, len);
    if (format_out) *format_out = format;
    if (format == IMAGE_FORMAT_UNKNOWN) {
        set_err(err, errlen, "unsupported image format (accepted: JPEG, PNG, GIF, BMP)");
        return IMAGE_ERR_UNSUPPORTED;
    }
    int w = 0, h = 0;
#ifdef INFERD_JPEG_TURBO
    if (format == IMAGE_FORMAT_JPEG) {
        struct jpeg_decompress_struct cinfo;
        jpeg_error_state jerr;
        memset(&jerr, 0, sizeof(jerr));
        cinfo.err = jpeg_std_error(&jerr.mgr);
        jerr.mgr.error_exit = jpeg_error_exit;
        jerr.mgr.emit_message = jpeg_emit_message;
        if (setjmp(jerr.escape)) {
            jpeg_destroy_decompress(&cinfo);
            if (err && errlen) snprintf(err, errlen, "invalid JPEG: %s", jerr.message);
            return IMAGE_ERR_CORRUPT;
        }
        jpeg_create_decompress(&cinfo);
        jpeg_mem_src(&cinfo, data, len > ULONG_MAX ? ULONG_MAX : (unsigned long)len);
        jpeg_read_header(&cinfo, TRUE);
        w = (int)cinfo.image_width;
        h = (int)cinfo.image_height;
        jpeg_destroy_decompress(&cinfo);
        image_status status = check_dimensions(w, h, NULL, err, errlen);
        if (status != IMAGE_OK) return status;
        *width = w;
        *height = h;
        return IMAGE_OK;
    }
#endif
    image_status status = format == IMAGE_FORMAT_PNG ? png_header(data, len, &w, &h, err, errlen)
                                                     : stb_header(data, len, format, &w, &h, err, errlen);
    if (status == IMAGE_OK) status = check_dimensions(w, h, NULL, err, errlen);
    if (status != IMAGE_OK) return status;
    *width = w;
    *height = h;
    return IMAGE_OK;
}

image_status image_decode_window(const uint8_t *data, size_t len, const image_limits *limits,
                                 const image_rect *need, image_window *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    if (!data || len == 0) {
        set_err(err, errlen, "empty image");
        return IMAGE_ERR_EMPTY;
    }
    image_format format = image_detect_format(data, len);
    if (format == IMAGE_FORMAT_UNKNOWN) {
        set_err(err, errlen, "unsupported image format (accepted: JPEG, PNG, GIF, BMP)");
        return IMAGE_ERR_UNSUPPORTED;
    }
#ifdef INFERD_JPEG_TURBO
    if (format == IMAGE_FORMAT_JPEG) return decode_jpeg(data, len, limits, need, out, err, errlen);
#else
    (void)need;
#endif
    image_status status = format == IMAGE_FORMAT_PNG ? decode_png(data, len, limits, &out->raster, err, errlen)
                                                     : decode_stb(data, len, format, limits, &out->raster, err, errlen);
    if (status == IMAGE_OK) {
        out->full_width = out->raster.width;
        out->full_height = out->raster.height;
    }
    return status;
}

image_status image_decode_rgb(const uint8_t *data, size_t len, const image_limits *limits,
                              image_rgb *out, char *err, size_t errlen) {
    image_window whole;
    image_status status = image_decode_window(data, len, limits, NULL, &whole, err, errlen);
    *out = whole.raster;
    return status;
}
