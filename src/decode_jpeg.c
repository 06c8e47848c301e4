/* decode_jpeg: JPEG through libjpeg-turbo, the library Pillow uses, with the
 * same settings, so pixels are bit-identical; decodes only the iMCU rows and
 * columns around the part preprocessing reads. Built with INFERD_JPEG=stb it
 * falls back to stb_image (not bit-exact with Pillow, whole image only). */
#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exif.h"
#include "image_decoder.h"

#ifdef INFERD_JPEG_TURBO
#include <jpeglib.h>
#include <jerror.h>
#else
#include <stb_image.h>
#endif

static int jpeg_sniff(const uint8_t *data, size_t len) {
    return len >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
}

#ifdef INFERD_JPEG_TURBO
static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

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

/* The columns and rows jpeg_decode decompresses for `need`: whole iMCU
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

static image_status jpeg_info(const uint8_t *data, size_t len, image_info *info, char *err, size_t errlen) {
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
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);
    info->width = (int)cinfo.image_width;
    info->height = (int)cinfo.image_height;
    /* Pillow keeps the first APP1 that starts "Exif\0\0". */
    for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length >= 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
            info->orientation = exif_orientation(m->data, m->data_length);
            break;
        }
    }
    jpeg_destroy_decompress(&cinfo);
    return IMAGE_OK;
}

static image_status jpeg_decode(const uint8_t *data, size_t len, const image_rect *need, image_window *out,
                                char *err, size_t errlen) {
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
    if (cinfo.image_width == 0 || cinfo.image_height == 0) {
        set_err(err, errlen, "invalid JPEG: zero width or height");
        goto fail;
    }

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

#else /* INFERD_JPEG=stb */

static image_status jpeg_info(const uint8_t *data, size_t len, image_info *info, char *err, size_t errlen) {
    int w, h, n;
    if (len > INT_MAX || !stbi_info_from_memory(data, (int)len, &w, &h, &n)) {
        if (err && errlen) snprintf(err, errlen, "invalid JPEG: %s", len > INT_MAX ? "file too large" : stbi_failure_reason());
        return IMAGE_ERR_CORRUPT;
    }
    info->width = w;
    info->height = h;
    return IMAGE_OK;
}

static image_status jpeg_decode(const uint8_t *data, size_t len, const image_rect *need, image_window *out,
                                char *err, size_t errlen) {
    (void)need;
    int w, h, n;
    uint8_t *rgb = len <= INT_MAX ? stbi_load_from_memory(data, (int)len, &w, &h, &n, 3) : NULL;
    if (!rgb) {
        if (err && errlen) snprintf(err, errlen, "invalid JPEG: %s", len > INT_MAX ? "file too large" : stbi_failure_reason());
        return IMAGE_ERR_CORRUPT;
    }
    /* stb allocates with malloc (STBI_MALLOC default), so free() releases it. */
    out->raster.width = out->full_width = w;
    out->raster.height = out->full_height = h;
    out->raster.pixels = rgb;
    out->x = out->y = 0;
    return IMAGE_OK;
}
#endif

const image_decoder image_decoder_jpeg = {
    .format = IMAGE_FORMAT_JPEG,
    .name = "JPEG",
    .sniff = jpeg_sniff,
    .info = jpeg_info,
    .decode = jpeg_decode,
};
