#include "image.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <zlib.h>

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

static image_status decode_jpeg(const uint8_t *data, size_t len, const image_limits *limits,
                                image_rgb *out, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    jpeg_error_state jerr;
    /* volatile: these are read after a longjmp back into this frame. */
    uint8_t *volatile pixels = NULL;
    uint8_t *volatile cmyk_row = NULL;
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

    size_t width = cinfo.output_width, height = cinfo.output_height;
    pixels = malloc(width * height * 3);
    if (is_cmyk) cmyk_row = malloc(width * 4);
    if (!pixels || (is_cmyk && !cmyk_row)) {
        status = IMAGE_ERR_NOMEM;
        set_err(err, errlen, "out of memory decoding JPEG");
        goto fail;
    }
    /* PIL reads Adobe CMYK JPEGs as inverted ("CMYK;I"). */
    int inverted = is_cmyk && cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        uint8_t *dst = pixels + (size_t)cinfo.output_scanline * width * 3;
        JSAMPROW row = is_cmyk ? cmyk_row : dst;
        jpeg_read_scanlines(&cinfo, &row, 1);
        if (is_cmyk) {
            for (size_t x = 0; x < width; x++) {
                int c = cmyk_row[4 * x], m = cmyk_row[4 * x + 1], y = cmyk_row[4 * x + 2],
                    k = cmyk_row[4 * x + 3];
                if (inverted) c = 255 - c, m = 255 - m, y = 255 - y, k = 255 - k;
                dst[3 * x] = pil_cmyk_channel(c, k);
                dst[3 * x + 1] = pil_cmyk_channel(m, k);
                dst[3 * x + 2] = pil_cmyk_channel(y, k);
            }
        }
        if (jerr.truncated) break;
    }
    if (!jerr.truncated) jpeg_finish_decompress(&cinfo);
    if (jerr.truncated) {
        if (err && errlen) snprintf(err, errlen, "invalid JPEG: corrupt or truncated data (%s)", jerr.message);
        goto fail;
    }
    jpeg_destroy_decompress(&cinfo);
    free(cmyk_row);
    out->width = (int)width;
    out->height = (int)height;
    out->pixels = pixels;
    return IMAGE_OK;

fail:
    jpeg_destroy_decompress(&cinfo);
    free(pixels);
    free(cmyk_row);
    return status;
}
#endif

/* PIL opens 16-bit grayscale PNGs as mode "I" and convert('RGB') clips each
 * value to 255 rather than scaling it, so we do the same. */
static image_status decode_gray16_clipped(const uint8_t *data, int len, image_rgb *out, char *err,
                                          size_t errlen) {
    int w, h, n;
    stbi_us *gray = stbi_load_16_from_memory(data, len, &w, &h, &n, 1);
    if (!gray) {
        if (err && errlen) snprintf(err, errlen, "invalid image: %s", stbi_failure_reason());
        return IMAGE_ERR_CORRUPT;
    }
    size_t count = (size_t)w * (size_t)h;
    uint8_t *rgb = malloc(count * 3);
    if (!rgb) {
        stbi_image_free(gray);
        set_err(err, errlen, "out of memory decoding image");
        return IMAGE_ERR_NOMEM;
    }
    for (size_t i = 0; i < count; i++) {
        uint8_t v = gray[i] > 255 ? 255 : (uint8_t)gray[i];
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = v;
    }
    stbi_image_free(gray);
    out->width = w;
    out->height = h;
    out->pixels = rgb;
    return IMAGE_OK;
}

/* stb_image does not verify PNG chunk CRCs; PIL does and refuses the file.
 * Walking the chunk list also rejects chunk lengths that overrun the file. */
static image_status check_png_chunks(const uint8_t *data, size_t len, char *err, size_t errlen) {
    size_t pos = 8;
    while (pos + 12 <= len) {
        uint32_t chunk_len = (uint32_t)data[pos] << 24 | (uint32_t)data[pos + 1] << 16 |
                             (uint32_t)data[pos + 2] << 8 | data[pos + 3];
        if (chunk_len > len - pos - 12) break; /* truncated: stb reports it */
        const uint8_t *type = data + pos + 4;
        const uint8_t *crc_at = type + 4 + chunk_len;
        uint32_t stored = (uint32_t)crc_at[0] << 24 | (uint32_t)crc_at[1] << 16 | (uint32_t)crc_at[2] << 8 | crc_at[3];
        uint32_t actual = (uint32_t)crc32(crc32(0L, Z_NULL, 0), type, (uInt)(chunk_len + 4));
        if (stored != actual) {
            if (err && errlen)
                snprintf(err, errlen, "invalid PNG: bad CRC in chunk '%c%c%c%c'", (type[0] >= 32 && type[0] < 127) ? type[0] : '?',
                         (type[1] >= 32 && type[1] < 127) ? type[1] : '?', (type[2] >= 32 && type[2] < 127) ? type[2] : '?',
                         (type[3] >= 32 && type[3] < 127) ? type[3] : '?');
            return IMAGE_ERR_CORRUPT;
        }
        if (memcmp(type, "IEND", 4) == 0) break;
        pos += 12 + (size_t)chunk_len;
    }
    return IMAGE_OK;
}

static image_status decode_stb(const uint8_t *data, size_t len, image_format format,
                               const image_limits *limits, image_rgb *out, char *err,
                               size_t errlen) {
    if (len > INT_MAX) {
        set_err(err, errlen, "image file too large");
        return IMAGE_ERR_TOO_LARGE;
    }
    int w, h, channels;
    if (!stbi_info_from_memory(data, (int)len, &w, &h, &channels)) {
        if (err && errlen) snprintf(err, errlen, "invalid %s: %s", image_format_name(format), stbi_failure_reason());
        return IMAGE_ERR_CORRUPT;
    }
    image_status status = check_dimensions(w, h, limits, err, errlen);
    if (status != IMAGE_OK) return status;
    if (format == IMAGE_FORMAT_PNG && (status = check_png_chunks(data, len, err, errlen)) != IMAGE_OK) return status;

    if (format == IMAGE_FORMAT_PNG && channels == 1 && stbi_is_16_bit_from_memory(data, (int)len))
        return decode_gray16_clipped(data, (int)len, out, err, errlen);

    /* Asking stb for 3 channels replicates gray, looks up palettes and drops
     * alpha without compositing: PIL's convert('RGB'). 16-bit samples keep
     * their high byte, as PIL's RGB;16B unpacking does. */
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
    int w = 0, h = 0, n = 0;
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
        *width = w;
        *height = h;
        return IMAGE_OK;
    }
#endif
    if (len > INT_MAX || !stbi_info_from_memory(data, (int)len, &w, &h, &n)) {
        if (err && errlen) snprintf(err, errlen, "invalid %s: %s", image_format_name(format),
                                    len > INT_MAX ? "file too large" : stbi_failure_reason());
        return IMAGE_ERR_CORRUPT;
    }
    *width = w;
    *height = h;
    return IMAGE_OK;
}

image_status image_decode_rgb(const uint8_t *data, size_t len, const image_limits *limits,
                              image_rgb *out, char *err, size_t errlen) {
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
    if (format == IMAGE_FORMAT_JPEG) return decode_jpeg(data, len, limits, out, err, errlen);
#endif
    return decode_stb(data, len, format, limits, out, err, errlen);
}
