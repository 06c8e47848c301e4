/* decode_pnm: PBM, PGM and PPM (P1-P6), decoded as Pillow 9.4's
 * Image.open(f).convert('RGB') decodes them. PIL/PpmImagePlugin.py (9.4) is
 * the definition, quirks included:
 *  - header tokens end at whitespace; a '#' comment runs to CR/LF and does
 *    not end a token ("1#c\n2" is 12); a token longer than 10 bytes is an
 *    error; numbers are Python int() literals (sign and '_' allowed);
 *  - maxval 1..65535. Binary 255 and binary P5 65535 are raw; any other
 *    maxval scales each sample to round(v / maxval * out_max) (Python's
 *    round: half to even) with out_max 255, except PGM with maxval > 255,
 *    which Pillow opens as mode "I" scaled to 65535 and convert('RGB') then
 *    clips to 255. Binary samples above maxval are clipped, plain ones are
 *    an error;
 *  - the plain (ASCII) formats are read in 1 MiB blocks exactly as Pillow
 *    reads them, since its comment and half-token handling depends on the
 *    block boundaries: a plain file that ends in the middle of a token
 *    without enough samples repeats its last token to the end of the image,
 *    and a negative plain sample wraps modulo 256 (both Pillow 9.4's
 *    behaviour, kept);
 *  - too little pixel data is an error, extra data is ignored.
 * Pillow's own extensions (P0CMYK, PyP, PyRGBA, PyCMYK) are not PNM and are
 * not accepted. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_decoder.h"

#define PNM_MAX_TOKEN 10            /* Pillow's header and data token limit */
#define PNM_BLOCK (1024 * 1024)     /* ImageFile.SAFEBLOCK: Pillow's read size */

typedef enum { PNM_BITMAP, PNM_GRAY, PNM_RGB } pnm_kind;

typedef struct {
    int plain; /* P1-P3 */
    pnm_kind kind;
    int64_t width, height;
    int64_t maxval; /* 0 for bitmaps */
    size_t data_at; /* where the pixels start */
} pnm_header;

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static int pnm_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; }

static int pnm_sniff(const uint8_t *data, size_t len) {
    return len >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6' && (len == 2 || pnm_space(data[2]));
}

/* Python's int() of a bytes literal in base 10: optional sign, then digits
 * with single underscores between them. */
static int parse_py_int(const uint8_t *s, size_t n, int64_t *value) {
    size_t i = 0;
    int negative = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
    if (i >= n || s[i] < '0' || s[i] > '9') return 0;
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] == '_') {
            if (i + 1 >= n || s[i + 1] < '0' || s[i + 1] > '9') return 0;
            continue;
        }
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0'); /* at most 10 digits: no overflow */
    }
    *value = negative ? -v : v;
    return 1;
}

/* PpmImageFile._read_token, on a cursor. */
static image_status read_header_token(const uint8_t *data, size_t len, size_t *pos, int64_t *value, char *err,
                                      size_t errlen) {
    uint8_t token[PNM_MAX_TOKEN + 1];
    size_t n = 0;
    while (n <= PNM_MAX_TOKEN) {
        if (*pos >= len) break;
        uint8_t c = data[(*pos)++];
        if (pnm_space(c)) {
            if (n == 0) continue;
            break;
        }
        if (c == '#') {
            while (*pos < len) {
                uint8_t d = data[(*pos)++];
                if (d == '\r' || d == '\n') break;
            }
            continue;
        }
        token[n++] = c;
    }
    if (n == 0) {
        set_err(err, errlen, "invalid PNM: header ends early");
        return IMAGE_ERR_CORRUPT;
    }
    if (n > PNM_MAX_TOKEN) {
        set_err(err, errlen, "invalid PNM: header token longer than 10 characters");
        return IMAGE_ERR_CORRUPT;
    }
    if (!parse_py_int(token, n, value)) {
        set_err(err, errlen, "invalid PNM: header value is not a number");
        return IMAGE_ERR_CORRUPT;
    }
    return IMAGE_OK;
}

static image_status pnm_parse_header(const uint8_t *data, size_t len, pnm_header *h, char *err, size_t errlen) {
    memset(h, 0, sizeof(*h));
    if (!pnm_sniff(data, len)) {
        set_err(err, errlen, "invalid PNM: no P1-P6 signature");
        return IMAGE_ERR_CORRUPT;
    }
    int type = data[1] - '0';
    h->plain = type <= 3;
    h->kind = type == 1 || type == 4 ? PNM_BITMAP : type == 2 || type == 5 ? PNM_GRAY : PNM_RGB;
    size_t pos = len > 2 ? 3 : 2; /* the magic and the whitespace after it */
    image_status status = read_header_token(data, len, &pos, &h->width, err, errlen);
    if (status == IMAGE_OK) status = read_header_token(data, len, &pos, &h->height, err, errlen);
    if (status == IMAGE_OK && h->kind != PNM_BITMAP) {
        status = read_header_token(data, len, &pos, &h->maxval, err, errlen);
        if (status == IMAGE_OK && (h->maxval <= 0 || h->maxval >= 65536)) {
            set_err(err, errlen, "invalid PNM: maxval must be greater than 0 and less than 65536");
            status = IMAGE_ERR_CORRUPT;
        }
    }
    if (status != IMAGE_OK) return status;
    if (h->width <= 0 || h->height <= 0) {
        set_err(err, errlen, "invalid PNM: zero or negative width or height");
        return IMAGE_ERR_CORRUPT;
    }
    if (h->width > INT_MAX || h->height > INT_MAX) {
        if (err && errlen)
            snprintf(err, errlen, "PNM dimensions %lldx%lld are too large", (long long)h->width, (long long)h->height);
        return IMAGE_ERR_TOO_LARGE;
    }
    h->data_at = pos;
    return IMAGE_OK;
}

static image_status pnm_info(const uint8_t *data, size_t len, image_info *info, char *err, size_t errlen) {
    pnm_header h;
    image_status status = pnm_parse_header(data, len, &h, err, errlen);
    if (status != IMAGE_OK) return status;
    info->width = (int)h.width;
    info->height = (int)h.height;
    info->orientation = 1;
    return IMAGE_OK;
}

/* Pillow opens PGM with maxval > 255 as mode "I" (0..65535), which
 * convert('RGB') clips to 0..255; every other PNM scales to 0..255. */
static int pnm_is_mode_i(const pnm_header *h) { return h->kind == PNM_GRAY && h->maxval > 255; }

/* Python's round(v / maxval * out_max), half to even (nearbyint in the
 * default rounding mode), then what convert('RGB') makes of it. */
static int64_t pnm_scale(int64_t v, int64_t maxval, int64_t out_max) {
    double q = (double)v / (double)maxval * (double)out_max;
    return (int64_t)nearbyint(q);
}

static uint8_t clip8(int64_t v) { return v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v; }

/* Writes sample number `i` (counting every channel) of the image to RGB. */
static void put_sample(uint8_t *rgb, pnm_kind kind, size_t i, uint8_t v) {
    if (kind == PNM_RGB) rgb[i] = v;
    else rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = v;
}

/* P4, P5 and P6 need all their bytes (Pillow's raw decoder and PpmDecoder
 * both fail short of them; extra bytes are ignored). Checked before
 * anything is allocated. */
static image_status pnm_binary_complete(size_t len, const pnm_header *h, char *err, size_t errlen) {
    uint64_t width = (uint64_t)h->width, height = (uint64_t)h->height, avail = len - h->data_at;
    uint64_t row = h->kind == PNM_BITMAP ? (width + 7) / 8
                                         : width * (h->kind == PNM_RGB ? 3 : 1) * (h->maxval < 256 ? 1 : 2);
    if (avail / row < height) {
        set_err(err, errlen, "invalid PNM: image file is truncated");
        return IMAGE_ERR_CORRUPT;
    }
    return IMAGE_OK;
}

/* Binary 255 (and P5 65535) is decoded raw by Pillow, every other maxval
 * by PpmDecoder, which scales and clips. */
static image_status pnm_decode_binary(const uint8_t *data, const pnm_header *h, uint8_t *rgb, char *err,
                                      size_t errlen) {
    size_t width = (size_t)h->width, height = (size_t)h->height;
    const uint8_t *src = data + h->data_at;
    if (h->kind == PNM_BITMAP) { /* rows of whole bytes, 1 = black */
        size_t row = (width + 7) / 8;
        for (size_t y = 0; y < height; y++)
            for (size_t x = 0; x < width; x++)
                put_sample(rgb, PNM_GRAY, y * width + x, (src[y * row + x / 8] >> (7 - x % 8)) & 1 ? 0 : 255);
        return IMAGE_OK;
    }
    size_t samples = width * height * (h->kind == PNM_RGB ? 3 : 1);
    size_t sample_bytes = h->maxval < 256 ? 1 : 2;

    /* Every possible sample value to its output byte. */
    size_t values = (size_t)1 << (8 * sample_bytes);
    uint8_t *table = malloc(values);
    if (!table) {
        set_err(err, errlen, "out of memory decoding PNM");
        return IMAGE_ERR_NOMEM;
    }
    int64_t out_max = pnm_is_mode_i(h) ? 65535 : 255;
    for (size_t v = 0; v < values; v++) {
        if (h->maxval == 255 || (h->maxval == 65535 && h->kind == PNM_GRAY)) /* raw: L, RGB or I;16B */
            table[v] = clip8((int64_t)v);
        else {
            int64_t s = pnm_scale((int64_t)v, h->maxval, out_max);
            table[v] = clip8(s > out_max ? out_max : s);
        }
    }
    for (size_t i = 0; i < samples; i++) {
        size_t v = sample_bytes == 1 ? src[i] : (size_t)src[2 * i] << 8 | src[2 * i + 1];
        put_sample(rgb, h->kind, i, table[v]);
    }
    free(table);
    return IMAGE_OK;
}

/* ---- Plain formats: PpmPlainDecoder, block by block. */

typedef struct {
    const uint8_t *data;
    size_t len, pos;
    uint8_t *buf;    /* a block, with room for a half token in front */
    int comment_spans;
} plain_reader;

#define PLAIN_FRONT 16 /* bytes before the block for a carried half token */

/* _read_block: the next block into buf + PLAIN_FRONT; returns its length. */
static size_t plain_read_block(plain_reader *r) {
    size_t n = r->len - r->pos < PNM_BLOCK ? r->len - r->pos : PNM_BLOCK;
    memcpy(r->buf + PLAIN_FRONT, r->data + r->pos, n);
    r->pos += n;
    return n;
}

/* _ignore_comments on the block at buf + PLAIN_FRONT of length *n; may read
 * further blocks while a comment spans them. Removing a comment (from '#'
 * to the first CR or LF, inclusive) joins what was on either side. */
static void plain_ignore_comments(plain_reader *r, size_t *n) {
    uint8_t *block = r->buf + PLAIN_FRONT;
    if (r->comment_spans) {
        while (*n) {
            /* _find_comment_end(block, 0), with its quirk: when the first
             * LF or CR is at index 0 and the other exists, it picks the other. */
            uint8_t *lf = memchr(block, '\n', *n), *cr = memchr(block, '\r', *n);
            int64_t a = lf ? (int64_t)(lf - block) : -1, b = cr ? (int64_t)(cr - block) : -1;
            int64_t end = a * b > 0 ? (a < b ? a : b) : (a > b ? a : b);
            if (end != -1) {
                memmove(block, block + end + 1, *n - (size_t)end - 1);
                *n -= (size_t)end + 1;
                break;
            }
            *n = plain_read_block(r);
        }
    }
    r->comment_spans = 0;
    size_t w = 0, i = 0;
    while (i < *n) {
        if (block[i] != '#') {
            block[w++] = block[i++];
            continue;
        }
        size_t e = i + 1;
        while (e < *n && block[e] != '\n' && block[e] != '\r') e++;
        if (e >= *n) { /* the comment continues in the next block */
            r->comment_spans = 1;
            break;
        }
        i = e + 1;
    }
    *n = w;
}

/* _decode_bitonal: every non-space byte is a pixel, '1' black, '0' white. */
static image_status plain_decode_bitmap(plain_reader *r, size_t total, uint8_t *rgb, char *err, size_t errlen) {
    size_t count = 0;
    while (count != total) {
        size_t n = plain_read_block(r);
        if (!n) break;
        plain_ignore_comments(r, &n);
        const uint8_t *block = r->buf + PLAIN_FRONT;
        for (size_t i = 0; i < n; i++) {
            if (pnm_space(block[i])) continue;
            if (block[i] != '0' && block[i] != '1') {
                set_err(err, errlen, "invalid PBM: pixel is neither 0 nor 1");
                return IMAGE_ERR_CORRUPT;
            }
            if (count < total) put_sample(rgb, PNM_GRAY, count++, block[i] == '0' ? 255 : 0);
        }
    }
    if (count < total) {
        set_err(err, errlen, "invalid PBM: not enough image data");
        return IMAGE_ERR_CORRUPT;
    }
    return IMAGE_OK;
}

/* One data token of _decode_blocks: length, int(), range, scaling. */
static image_status plain_sample(const uint8_t *tok, size_t n, const pnm_header *h, uint8_t *out, char *err,
                                 size_t errlen) {
    int64_t v;
    if (n > PNM_MAX_TOKEN) {
        set_err(err, errlen, "invalid PNM: token longer than 10 characters in the data");
        return IMAGE_ERR_CORRUPT;
    }
    if (!parse_py_int(tok, n, &v)) {
        set_err(err, errlen, "invalid PNM: sample is not a number");
        return IMAGE_ERR_CORRUPT;
    }
    if (v > h->maxval) {
        set_err(err, errlen, "invalid PNM: sample larger than maxval");
        return IMAGE_ERR_CORRUPT;
    }
    if (pnm_is_mode_i(h)) {
        int64_t s = pnm_scale(v, h->maxval, 65535);
        if (s < 0) { /* Pillow's o32 cannot pack it */
            set_err(err, errlen, "invalid PNM: negative sample");
            return IMAGE_ERR_CORRUPT;
        }
        *out = clip8(s);
    } else {
        *out = (uint8_t)((uint64_t)pnm_scale(v, h->maxval, 255) & 255); /* o8(): modulo 256 */
    }
    return IMAGE_OK;
}

/* _decode_blocks for P2 and P3, with its half-token carry: a block that
 * ends inside a token keeps that token for the next block; the variable is
 * never cleared, so Pillow re-reads it whenever later blocks end in
 * whitespace and at the end of the data. */
static image_status plain_decode_samples(plain_reader *r, const pnm_header *h, size_t total, uint8_t *rgb,
                                         char *err, size_t errlen) {
    uint8_t half[PNM_MAX_TOKEN], last = 0;
    size_t half_len = 0, count = 0;
    while (count != total) {
        size_t n = plain_read_block(r);
        /* At the end of the data with a token carried and no comment open,
         * every further pass of Pillow's loop reads just that token again. */
        int repeats = 0;
        if (!n) {
            if (!half_len) break;
            r->buf[PLAIN_FRONT] = ' ';
            n = 1;
            repeats = !r->comment_spans;
        }
        plain_ignore_comments(r, &n);
        uint8_t *block = r->buf + PLAIN_FRONT;
        if (half_len) {
            block -= half_len;
            memcpy(block, half, half_len);
            n += half_len;
        }
        size_t end = n; /* tokens before `end` are processed now */
        if (n && !pnm_space(block[n - 1])) {
            size_t start = n;
            while (start > 0 && !pnm_space(block[start - 1])) start--;
            if (n - start > PNM_MAX_TOKEN) {
                set_err(err, errlen, "invalid PNM: token longer than 10 characters in the data");
                return IMAGE_ERR_CORRUPT;
            }
            half_len = n - start;
            memcpy(half, block + start, half_len);
            end = start;
        }
        size_t i = 0;
        while (i < end && count < total) {
            while (i < end && pnm_space(block[i])) i++;
            if (i >= end) break;
            size_t t = i;
            while (i < end && !pnm_space(block[i])) i++;
            uint8_t v;
            image_status status = plain_sample(block + t, i - t, h, &v, err, errlen);
            if (status != IMAGE_OK) return status;
            put_sample(rgb, h->kind, count++, v);
            last = v;
        }
        if (repeats) /* in one step, not one pass per sample: a 20-byte file can claim millions */
            while (count < total) put_sample(rgb, h->kind, count++, last);
    }
    if (count < total) {
        set_err(err, errlen, "invalid PNM: not enough image data");
        return IMAGE_ERR_CORRUPT;
    }
    return IMAGE_OK;
}

static image_status pnm_decode_plain(const uint8_t *data, size_t len, const pnm_header *h, uint8_t *rgb, char *err,
                                     size_t errlen) {
    /* No block is longer than what follows the header (plus the one space
     * Pillow feeds in at the end of the data). */
    size_t block = len - h->data_at < PNM_BLOCK ? len - h->data_at : PNM_BLOCK;
    plain_reader r = {data, len, h->data_at, malloc(PLAIN_FRONT + block + 1), 0};
    if (!r.buf) {
        set_err(err, errlen, "out of memory decoding PNM");
        return IMAGE_ERR_NOMEM;
    }
    size_t pixels = (size_t)h->width * (size_t)h->height;
    image_status status = h->kind == PNM_BITMAP ? plain_decode_bitmap(&r, pixels, rgb, err, errlen)
                                                : plain_decode_samples(&r, h, pixels * (h->kind == PNM_RGB ? 3 : 1),
                                                                       rgb, err, errlen);
    free(r.buf);
    return status;
}

static image_status pnm_decode(const uint8_t *data, size_t len, const image_rect *need, image_window *out,
                               char *err, size_t errlen) {
    (void)need; /* decoded whole */
    pnm_header h;
    image_status status = pnm_parse_header(data, len, &h, err, errlen);
    if (status != IMAGE_OK) return status;
    if (!h.plain && (status = pnm_binary_complete(len, &h, err, errlen)) != IMAGE_OK) return status;
    uint64_t pixels = (uint64_t)h.width * (uint64_t)h.height;
    if (pixels > SIZE_MAX / 3) {
        set_err(err, errlen, "PNM dimensions overflow");
        return IMAGE_ERR_TOO_LARGE;
    }
    uint8_t *rgb = malloc((size_t)pixels * 3);
    if (!rgb) {
        set_err(err, errlen, "out of memory decoding PNM");
        return IMAGE_ERR_NOMEM;
    }
    status = h.plain ? pnm_decode_plain(data, len, &h, rgb, err, errlen)
                     : pnm_decode_binary(data, &h, rgb, err, errlen);
    if (status != IMAGE_OK) {
        free(rgb);
        return status;
    }
    out->raster.width = out->full_width = (int)h.width;
    out->raster.height = out->full_height = (int)h.height;
    out->raster.pixels = rgb;
    out->x = out->y = 0;
    return IMAGE_OK;
}

const image_decoder image_decoder_pnm = {
    .format = IMAGE_FORMAT_PNM,
    .name = "PNM",
    .sniff = pnm_sniff,
    .info = pnm_info,
    .decode = pnm_decode,
};
