/* decode_bmp: every BMP that Pillow 9.4 opens, decoded as
 * Image.open(f).convert('RGB') decodes it: Windows v3/v4/v5 and OS/2 v1/v2
 * headers, 1/4/8-bit palettes (and Pillow's grayscale-palette shortcut),
 * 16/24/32-bit with the bitfield masks Pillow accepts, RLE8 and RLE4,
 * bottom-up and top-down. Pillow's PIL/BmpImagePlugin.py (9.4) is the
 * definition, quirks included; each quirk kept on purpose says so where it
 * is reproduced. What Pillow refuses (JPEG/PNG inside BMP, 2-bit, unusual
 * bitfields) is refused here as unsupported. Hand-written: no library
 * decodes BMP the way Pillow does. Every read is bounds-checked, sizes are
 * 64-bit, and nothing outside `data` is ever read. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_decoder.h"

enum { BMP_RAW = 0, BMP_RLE8 = 1, BMP_RLE4 = 2, BMP_BITFIELDS = 3 };

/* How one row of pixel data turns into RGB: Pillow's raw mode. */
typedef enum {
    LAYOUT_P1,    /* palette index, 1 bit */
    LAYOUT_P4,    /* palette index, 4 bits */
    LAYOUT_P8,    /* palette index, 8 bits */
    LAYOUT_BIT1,  /* Pillow mode "1": 1 bit, set = white */
    LAYOUT_L8,    /* Pillow mode "L": one gray byte */
    LAYOUT_BGR15, /* 16-bit 5-5-5 */
    LAYOUT_BGR16, /* 16-bit 5-6-5 */
    LAYOUT_BGR,   /* 24-bit */
    LAYOUT_BGRX,  /* 32-bit, bytes B G R x (also BGRA: alpha is dropped) */
    LAYOUT_XBGR,  /* 32-bit, bytes x B G R (also ABGR) */
    LAYOUT_RGBA   /* 32-bit, bytes R G B A */
} bmp_layout;

typedef enum { BMP_MODE_P, BMP_MODE_L, BMP_MODE_1, BMP_MODE_RGB } bmp_mode;

typedef struct {
    uint32_t header_size;
    uint64_t width, height;
    unsigned bits;
    uint32_t compression;
    int top_down;
    uint64_t colors;       /* palette entries the header declares (or 1 << bits) */
    unsigned palette_pad;  /* bytes per palette entry: 3 (OS/2 v1) or 4 */
    uint64_t file_offset;  /* bfOffBits, after Pillow's adjustment; 0 = right after what was read */
    uint64_t after_header; /* where the palette (or, if bfOffBits is 0, the pixels) starts */
    bmp_mode mode;
    bmp_layout layout;
} bmp_header;

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int bmp_sniff(const uint8_t *data, size_t len) { return len >= 2 && data[0] == 'B' && data[1] == 'M'; }

/* The 32-bit mask sets Pillow 9.4 accepts, and what each means. */
static int bitfields_layout(unsigned bits, uint32_t r, uint32_t g, uint32_t b, uint32_t a, bmp_layout *layout) {
    if (bits == 32) {
        if (r == 0xFF0000 && g == 0xFF00 && b == 0xFF && (a == 0 || a == 0xFF000000)) return *layout = LAYOUT_BGRX, 1;
        if (r == 0xFF000000 && g == 0xFF0000 && b == 0xFF00 && (a == 0 || a == 0xFF)) return *layout = LAYOUT_XBGR, 1;
        if (r == 0xFF && g == 0xFF00 && b == 0xFF0000 && a == 0xFF000000) return *layout = LAYOUT_RGBA, 1;
        if (r == 0 && g == 0 && b == 0 && a == 0) return *layout = LAYOUT_BGRX, 1; /* Pillow reads it as BGRA */
        return 0;
    }
    if (bits == 24 && r == 0xFF0000 && g == 0xFF00 && b == 0xFF) return *layout = LAYOUT_BGR, 1;
    if (bits == 16 && r == 0xF800 && g == 0x7E0 && b == 0x1F) return *layout = LAYOUT_BGR16, 1;
    if (bits == 16 && r == 0x7C00 && g == 0x3E0 && b == 0x1F) return *layout = LAYOUT_BGR15, 1;
    return 0;
}

/* Everything before the palette, by the rules of Pillow's BmpImageFile._bitmap.
 * Dimensions above INT_MAX are refused as too large: they could never pass
 * the pixel limit and must not reach int arithmetic. */
static image_status bmp_parse_header(const uint8_t *data, size_t len, bmp_header *h, char *err, size_t errlen) {
    memset(h, 0, sizeof(*h));
    if (len < 18) {
        set_err(err, errlen, "invalid BMP: file header is truncated");
        return IMAGE_ERR_CORRUPT;
    }
    uint64_t offset = rd32(data + 10);
    h->header_size = rd32(data + 14);
    if (h->header_size != 12 && h->header_size != 40 && h->header_size != 64 && h->header_size != 108 &&
        h->header_size != 124) {
        /* A real header Pillow does not open (OS/2 short, v2, v3) is 415;
         * any other size is not a BMP header at all. */
        int known = h->header_size == 16 || h->header_size == 52 || h->header_size == 56;
        if (err && errlen)
            snprintf(err, errlen, "%s BMP header size %lu (Pillow opens 12, 40, 64, 108 and 124)",
                     known ? "unsupported" : "invalid BMP: bad", (unsigned long)h->header_size);
        return known ? IMAGE_ERR_UNSUPPORTED : IMAGE_ERR_CORRUPT;
    }
    if ((uint64_t)len < 14u + (uint64_t)h->header_size) {
        set_err(err, errlen, "invalid BMP: info header is truncated");
        return IMAGE_ERR_CORRUPT;
    }
    const uint8_t *info = data + 18; /* the info header after its size field */
    uint64_t pos = 14u + h->header_size;
    uint32_t masks[4] = {0, 0, 0, 0};
    h->colors = 0;
    if (h->header_size == 12) { /* OS/2 v1: 16-bit sizes, always bottom-up, 3-byte palette */
        h->width = rd16(info);
        h->height = rd16(info + 2);
        h->bits = rd16(info + 6);
        h->compression = BMP_RAW;
        h->palette_pad = 3;
    } else {
        /* Pillow takes a height whose top byte is 0xFF as negative (top-down);
         * any other height, even one with the sign bit set, as unsigned. */
        uint32_t raw_height = rd32(info + 4);
        h->top_down = info[7] == 0xFF;
        h->width = rd32(info);
        h->height = h->top_down ? (uint64_t)0x100000000ull - raw_height : raw_height;
        h->bits = rd16(info + 10);
        h->compression = rd32(info + 12);
        h->colors = rd32(info + 28);
        h->palette_pad = 4;
        if (h->compression == BMP_BITFIELDS) {
            if (h->header_size >= 56) {
                for (int i = 0; i < 4; i++) masks[i] = rd32(info + 36 + 4 * i);
            } else { /* v3 header: three masks follow it; no alpha mask */
                if ((uint64_t)len < pos + 12) {
                    set_err(err, errlen, "invalid BMP: bitfield masks are truncated");
                    return IMAGE_ERR_CORRUPT;
                }
                for (int i = 0; i < 3; i++) masks[i] = rd32(data + pos + 4 * i);
                pos += 12;
            }
        }
    }
    if (h->colors == 0 && h->bits <= 32) h->colors = (uint64_t)1 << h->bits;
    /* Pillow's repair of files whose bfOffBits points at the palette. It
     * adds 4 bytes an entry even for OS/2 v1's 3-byte entries: kept, as Pillow. */
    if (offset == 14u + (uint64_t)h->header_size && h->bits <= 8) offset += 4 * h->colors;
    h->file_offset = offset;
    h->after_header = pos;

    /* Variants Pillow refuses are 415; values no BMP writer uses are 400. */
    uint32_t c = h->compression;
    if (c == 4 || c == 5 || c == 6 || c == 11 || c == 12 || c == 13) {
        const char *what = c == 4 ? "JPEG inside BMP" : c == 5 ? "PNG inside BMP" : c == 6 ? "alpha bitfields" : "CMYK";
        if (err && errlen) snprintf(err, errlen, "unsupported BMP compression %lu (%s); Pillow refuses it too",
                                    (unsigned long)c, what);
        return IMAGE_ERR_UNSUPPORTED;
    }
    if (c > BMP_BITFIELDS) {
        if (err && errlen) snprintf(err, errlen, "invalid BMP: unknown compression %lu", (unsigned long)c);
        return IMAGE_ERR_CORRUPT;
    }
    switch (h->bits) {
    case 1: h->mode = BMP_MODE_P, h->layout = LAYOUT_P1; break;
    case 4: h->mode = BMP_MODE_P, h->layout = LAYOUT_P4; break;
    case 8: h->mode = BMP_MODE_P, h->layout = LAYOUT_P8; break;
    case 16: h->mode = BMP_MODE_RGB, h->layout = LAYOUT_BGR15; break;
    case 24: h->mode = BMP_MODE_RGB, h->layout = LAYOUT_BGR; break;
    case 32: h->mode = BMP_MODE_RGB, h->layout = LAYOUT_BGRX; break;
    default: {
        int known = h->bits == 0 || h->bits == 2 || h->bits == 64;
        if (err && errlen)
            snprintf(err, errlen, "%s BMP bit depth %u (Pillow opens 1, 4, 8, 16, 24 and 32)",
                     known ? "unsupported" : "invalid BMP: bad", h->bits);
        return known ? IMAGE_ERR_UNSUPPORTED : IMAGE_ERR_CORRUPT;
    }
    }
    if (h->compression == BMP_BITFIELDS) {
        if (!bitfields_layout(h->bits, masks[0], masks[1], masks[2], masks[3], &h->layout)) {
            if (err && errlen)
                snprintf(err, errlen,
                         "unsupported BMP bitfields layout (%u-bit, masks %08lx %08lx %08lx %08lx; Pillow refuses it too)",
                         h->bits, (unsigned long)masks[0], (unsigned long)masks[1], (unsigned long)masks[2],
                         (unsigned long)masks[3]);
            return IMAGE_ERR_UNSUPPORTED;
        }
    }
    if (h->mode == BMP_MODE_P && (h->colors == 0 || h->colors > 65536)) {
        set_err(err, errlen, "invalid BMP: palette size out of range");
        return IMAGE_ERR_CORRUPT;
    }
    if (h->width == 0 || h->height == 0) {
        set_err(err, errlen, "invalid BMP: zero width or height");
        return IMAGE_ERR_CORRUPT;
    }
    if (h->width > INT_MAX || h->height > INT_MAX) {
        if (err && errlen)
            snprintf(err, errlen, "BMP dimensions %llux%llu are too large", (unsigned long long)h->width,
                     (unsigned long long)h->height);
        return IMAGE_ERR_TOO_LARGE;
    }
    return IMAGE_OK;
}

static image_status bmp_info(const uint8_t *data, size_t len, image_info *info, char *err, size_t errlen) {
    bmp_header h;
    image_status status = bmp_parse_header(data, len, &h, err, errlen);
    if (status != IMAGE_OK) return status;
    info->width = (int)h.width;
    info->height = (int)h.height;
    info->orientation = 1;
    return IMAGE_OK;
}

/* Reads the palette as Pillow does: from right after the header, as much of
 * it as the file holds. A palette that is exactly black/white (2 entries) or
 * the ramp 0,1,2,... makes Pillow open the image as mode "1" or "L" and
 * decode the pixels with that mode's raw layout, whatever the bit depth
 * (a quirk kept: a 4-bit file with the ramp palette is read as 8-bit gray).
 * Entries past the palette are Pillow's default: gray i,i,i. `*pixels_at`
 * is where the pixels start if bfOffBits is 0. */
static image_status bmp_read_palette(const uint8_t *data, size_t len, bmp_header *h, uint8_t palette[256][3],
                                     uint64_t *pixels_at, char *err, size_t errlen) {
    for (int i = 0; i < 256; i++) palette[i][0] = palette[i][1] = palette[i][2] = (uint8_t)i;
    *pixels_at = h->after_header;
    if (h->mode != BMP_MODE_P) return IMAGE_OK;
    uint64_t want = h->colors * h->palette_pad;
    uint64_t avail = h->after_header <= len ? (uint64_t)len - h->after_header : 0;
    if (avail > want) avail = want;
    const uint8_t *pal = data + h->after_header;
    *pixels_at = h->after_header + avail;

    int gray = 1;
    for (uint64_t i = 0; i < h->colors && gray; i++) {
        uint8_t v = h->colors == 2 ? (i ? 255 : 0) : (uint8_t)(i & 255);
        uint64_t at = i * h->palette_pad;
        gray = at + 3 <= avail && pal[at] == v && pal[at + 1] == v && pal[at + 2] == v;
    }
    if (gray) {
        h->mode = h->colors == 2 ? BMP_MODE_1 : BMP_MODE_L;
        h->layout = h->colors == 2 ? LAYOUT_BIT1 : LAYOUT_L8;
        return IMAGE_OK;
    }
    uint64_t entries = avail / h->palette_pad;
    if (entries > 256) {
        set_err(err, errlen, "invalid BMP: palette has more than 256 colours");
        return IMAGE_ERR_CORRUPT;
    }
    for (uint64_t i = 0; i < entries; i++) {
        const uint8_t *e = pal + i * h->palette_pad; /* B G R [x] */
        palette[i][0] = e[2];
        palette[i][1] = e[1];
        palette[i][2] = e[0];
    }
    return IMAGE_OK;
}

static unsigned layout_bits(bmp_layout layout) {
    switch (layout) {
    case LAYOUT_P1:
    case LAYOUT_BIT1: return 1;
    case LAYOUT_P4: return 4;
    case LAYOUT_P8:
    case LAYOUT_L8: return 8;
    case LAYOUT_BGR15:
    case LAYOUT_BGR16: return 16;
    case LAYOUT_BGR: return 24;
    default: return 32;
    }
}

static void put_rgb(uint8_t *dst, uint8_t r, uint8_t g, uint8_t b) { dst[0] = r, dst[1] = g, dst[2] = b; }

/* One stored row to RGB, with Pillow's unpackers (16-bit channels expand
 * as v * 255 / max, truncating, as Pillow's Unpack.c does). */
static void unpack_row(const uint8_t *src, size_t width, bmp_layout layout, const uint8_t palette[256][3],
                       uint8_t *dst) {
    for (size_t x = 0; x < width; x++, dst += 3) {
        unsigned v;
        switch (layout) {
        case LAYOUT_P1: memcpy(dst, palette[(src[x >> 3] >> (7 - (x & 7))) & 1], 3); break;
        case LAYOUT_P4: memcpy(dst, palette[(x & 1) ? src[x >> 1] & 15 : src[x >> 1] >> 4], 3); break;
        case LAYOUT_P8: memcpy(dst, palette[src[x]], 3); break;
        case LAYOUT_BIT1:
            v = (src[x >> 3] >> (7 - (x & 7))) & 1 ? 255 : 0;
            put_rgb(dst, (uint8_t)v, (uint8_t)v, (uint8_t)v);
            break;
        case LAYOUT_L8: put_rgb(dst, src[x], src[x], src[x]); break;
        case LAYOUT_BGR15:
            v = rd16(src + 2 * x);
            put_rgb(dst, (uint8_t)(((v >> 10) & 31) * 255 / 31), (uint8_t)(((v >> 5) & 31) * 255 / 31),
                    (uint8_t)((v & 31) * 255 / 31));
            break;
        case LAYOUT_BGR16:
            v = rd16(src + 2 * x);
            put_rgb(dst, (uint8_t)(((v >> 11) & 31) * 255 / 31), (uint8_t)(((v >> 5) & 63) * 255 / 63),
                    (uint8_t)((v & 31) * 255 / 31));
            break;
        case LAYOUT_BGR: put_rgb(dst, src[3 * x + 2], src[3 * x + 1], src[3 * x]); break;
        case LAYOUT_BGRX: put_rgb(dst, src[4 * x + 2], src[4 * x + 1], src[4 * x]); break;
        case LAYOUT_XBGR: put_rgb(dst, src[4 * x + 3], src[4 * x + 2], src[4 * x + 1]); break;
        case LAYOUT_RGBA: put_rgb(dst, src[4 * x], src[4 * x + 1], src[4 * x + 2]); break;
        }
    }
}

/* Uncompressed rows: each stored row padded to 4 bytes, except that Pillow
 * does not require the last row's padding. Checked before anything is
 * allocated, so a short file claiming a big image costs nothing. */
static image_status bmp_raw_stride(size_t len, const bmp_header *h, uint64_t pixels_at, uint64_t *stride,
                                   char *err, size_t errlen) {
    *stride = ((h->width * h->bits + 31) >> 3) & ~(uint64_t)3;
    uint64_t row_bytes = (h->width * layout_bits(h->layout) + 7) / 8;
    if (row_bytes > *stride) { /* only with Pillow's gray-palette shortcut; Pillow fails the same way */
        set_err(err, errlen, "invalid BMP: rows too short for the pixel layout Pillow reads them with");
        return IMAGE_ERR_CORRUPT;
    }
    uint64_t avail = pixels_at <= len ? (uint64_t)len - pixels_at : 0;
    if (avail < row_bytes || (h->height > 1 && (avail - row_bytes) / *stride < h->height - 1)) {
        set_err(err, errlen, "invalid BMP: image file is truncated");
        return IMAGE_ERR_CORRUPT;
    }
    return IMAGE_OK;
}

static void bmp_decode_raw(const uint8_t *data, const bmp_header *h, uint64_t pixels_at, uint64_t stride,
                           const uint8_t palette[256][3], uint8_t *rgb) {
    size_t width = (size_t)h->width;
    for (uint64_t r = 0; r < h->height; r++) {
        uint64_t y = h->top_down ? r : h->height - 1 - r;
        unpack_row(data + pixels_at + r * stride, width, h->layout, palette, rgb + (size_t)y * width * 3);
    }
}

/* Pillow 9.4's BmpRleDecoder, step for step: the image must be filled
 * completely (an early end-of-bitmap or the end of the data is an error,
 * "not enough image data"); encoded runs are clipped to the row by a column
 * counter that absolute runs advance without clipping; absolute runs may
 * flow into the next row; the word alignment after an absolute run is of
 * the file position; an RLE4 absolute run of n pixels reads n/2 bytes
 * (dropping an odd last pixel); and a delta reads four bytes and uses the
 * last two (the 9.4 quirk). `indexes` is width*height bytes, zeroed. */
static image_status bmp_expand_rle(const uint8_t *data, size_t len, uint64_t pos, uint64_t width, uint64_t total,
                                   int rle4, uint8_t *indexes, char *err, size_t errlen) {
    uint64_t n = 0, x = 0;
#define RLE_PUT(v)                            \
    do {                                      \
        if (n < total) indexes[n] = (uint8_t)(v); \
        n++;                                  \
    } while (0)
    while (n < total) {
        if (pos + 2 > len) break;
        unsigned count = data[pos], byte = data[pos + 1];
        pos += 2;
        if (count) {
            if (x + count > width) count = x < width ? (unsigned)(width - x) : 0;
            for (unsigned i = 0; i < count; i++) RLE_PUT(!rle4 ? byte : (i % 2 == 0) ? byte >> 4 : byte & 15);
            x += count;
        } else if (byte == 0) { /* end of line: zeros to the row's end */
            n = (n + width - 1) / width * width;
            x = 0;
        } else if (byte == 1) { /* end of bitmap */
            break;
        } else if (byte == 2) { /* delta */
            if (pos + 2 > len) break;
            pos += 2;
            if (pos + 2 > len) {
                set_err(err, errlen, "invalid BMP: RLE delta is truncated");
                return IMAGE_ERR_CORRUPT;
            }
            uint64_t right = data[pos], up = data[pos + 1];
            pos += 2;
            n += right + up * width;
            x = n % width;
        } else { /* absolute run of `byte` pixels */
            uint64_t want = rle4 ? byte / 2 : byte;
            uint64_t have = pos < len ? (uint64_t)len - pos : 0;
            if (have > want) have = want;
            for (uint64_t i = 0; i < have; i++) {
                uint8_t b = data[pos + i];
                if (rle4) {
                    RLE_PUT(b >> 4);
                    RLE_PUT(b & 15);
                } else {
                    RLE_PUT(b);
                }
            }
            pos += have;
            if (have < want) break;
            x += byte;
            if (pos % 2) pos++;
        }
    }
#undef RLE_PUT
    if (n < total) {
        set_err(err, errlen, "invalid BMP: RLE data ends before the image is complete");
        return IMAGE_ERR_CORRUPT;
    }
    return IMAGE_OK;
}

static image_status bmp_decode_rle(const uint8_t *data, size_t len, const bmp_header *h, uint64_t pixels_at,
                                   const uint8_t palette[256][3], uint8_t *rgb, char *err, size_t errlen) {
    if (h->mode != BMP_MODE_P && h->mode != BMP_MODE_L) {
        set_err(err, errlen,
                h->mode == BMP_MODE_RGB
                    ? "unsupported BMP: RLE compression with more than 8 bits a pixel (Pillow refuses it too)"
                    : "unsupported BMP: RLE with a black-and-white palette (Pillow 9.4 refuses it too)");
        return IMAGE_ERR_UNSUPPORTED;
    }
    size_t width = (size_t)h->width, height = (size_t)h->height;
    uint8_t *indexes = calloc(width, height);
    if (!indexes) {
        set_err(err, errlen, "out of memory decoding BMP");
        return IMAGE_ERR_NOMEM;
    }
    image_status status = bmp_expand_rle(data, len, pixels_at, h->width, (uint64_t)width * height,
                                         h->compression == BMP_RLE4, indexes, err, errlen);
    if (status == IMAGE_OK) {
        bmp_layout layout = h->mode == BMP_MODE_L ? LAYOUT_L8 : LAYOUT_P8;
        for (size_t r = 0; r < height; r++) {
            size_t y = h->top_down ? r : height - 1 - r;
            unpack_row(indexes + r * width, width, layout, palette, rgb + y * width * 3);
        }
    }
    free(indexes);
    return status;
}

static image_status bmp_decode(const uint8_t *data, size_t len, const image_rect *need, image_window *out,
                               char *err, size_t errlen) {
    (void)need; /* rows are stored bottom-up or RLE-coded: decoded whole */
    bmp_header h;
    image_status status = bmp_parse_header(data, len, &h, err, errlen);
    if (status != IMAGE_OK) return status;
    uint8_t palette[256][3];
    uint64_t pixels_at;
    status = bmp_read_palette(data, len, &h, palette, &pixels_at, err, errlen);
    if (status != IMAGE_OK) return status;
    if (h.file_offset) pixels_at = h.file_offset;

    int rle = h.compression == BMP_RLE8 || h.compression == BMP_RLE4;
    uint64_t stride = 0;
    if (!rle && (status = bmp_raw_stride(len, &h, pixels_at, &stride, err, errlen)) != IMAGE_OK) return status;
    uint64_t pixels = h.width * h.height;
    if (pixels > SIZE_MAX / 3) {
        set_err(err, errlen, "BMP dimensions overflow");
        return IMAGE_ERR_TOO_LARGE;
    }
    uint8_t *rgb = malloc((size_t)pixels * 3);
    if (!rgb) {
        set_err(err, errlen, "out of memory decoding BMP");
        return IMAGE_ERR_NOMEM;
    }
    if (rle) {
        status = bmp_decode_rle(data, len, &h, pixels_at, palette, rgb, err, errlen);
        if (status != IMAGE_OK) {
            free(rgb);
            return status;
        }
    } else {
        bmp_decode_raw(data, &h, pixels_at, stride, palette, rgb);
    }
    out->raster.width = out->full_width = (int)h.width;
    out->raster.height = out->full_height = (int)h.height;
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
