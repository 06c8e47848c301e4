/* test_image: image.h — format sniffing, the RGB conversion of each accepted
 * format (PIL's convert('RGB'): gray replicated, alpha dropped without
 * compositing, palettes looked up, 16-bit handled), truncated and malformed
 * input (an error code, never a crash), and the pixel limit that must hold
 * before any pixel is decoded. Images are made in memory with
 * stb_image_write, or byte by byte (PNG chunks with real CRCs, a GIF) for
 * what stb_image_write cannot write. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#endif
#include <stb_image_write.h>
#if defined(__GNUC__) || defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include "check.h"
#include "image.h"

/* ---- growable byte buffer, the target of stbi_write_*_to_func ---------- */

typedef struct {
    uint8_t *data;
    size_t len, cap;
} buffer;

static void buf_append(buffer *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        uint8_t *grown = realloc(b->data, cap);
        if (!grown) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

static void buf_write_func(void *context, void *data, int size) {
    buf_append(context, data, (size_t)size);
}

static void buf_free(buffer *b) {
    free(b->data);
    memset(b, 0, sizeof(*b));
}

static void put_be32(buffer *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    buf_append(b, x, 4);
}

static void put_le16(buffer *b, unsigned v) {
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    buf_append(b, x, 2);
}

/* Deterministic pseudo-random bytes (xorshift32). */
static uint32_t rng_state = 0x12345678u;
static uint8_t rng_byte(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (uint8_t)(rng_state >> 24);
}

/* ---- hand-built PNG --------------------------------------------------- */

static uint32_t crc32_bytes(const uint8_t *p, size_t n) {
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void png_chunk(buffer *b, const char *type, const uint8_t *data, size_t n) {
    put_be32(b, (uint32_t)n);
    size_t start = b->len;
    buf_append(b, type, 4);
    if (n) buf_append(b, data, n);
    put_be32(b, crc32_bytes(b->data + start, 4 + n));
}

/* Recomputes every chunk's CRC, so that only the data inside is wrong. */
static void png_fix_crcs(uint8_t *data, size_t len) {
    size_t pos = 8;
    while (pos + 12 <= len) {
        uint32_t n = (uint32_t)data[pos] << 24 | (uint32_t)data[pos + 1] << 16 | (uint32_t)data[pos + 2] << 8 |
                     data[pos + 3];
        if (n > len - pos - 12) break;
        uint32_t crc = crc32_bytes(data + pos + 4, 4 + (size_t)n);
        uint8_t *at = data + pos + 8 + n;
        at[0] = (uint8_t)(crc >> 24), at[1] = (uint8_t)(crc >> 16), at[2] = (uint8_t)(crc >> 8), at[3] = (uint8_t)crc;
        pos += 12 + (size_t)n;
    }
}

/* A PNG with the given IHDR fields; `raw` (filter byte + samples per row)
 * is zlib-compressed into one IDAT, or, when raw is NULL, `idat` bytes are
 * stored as they are. plte/trns are optional chunks. */
static buffer png_build(uint32_t width, uint32_t height, int depth, int color, const uint8_t *raw, size_t raw_len,
                        const uint8_t *plte, size_t plte_len, const uint8_t *trns, size_t trns_len) {
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    buffer b = {0};
    buf_append(&b, sig, 8);
    uint8_t ihdr[13] = {(uint8_t)(width >> 24),  (uint8_t)(width >> 16),  (uint8_t)(width >> 8),  (uint8_t)width,
                        (uint8_t)(height >> 24), (uint8_t)(height >> 16), (uint8_t)(height >> 8), (uint8_t)height,
                        (uint8_t)depth,          (uint8_t)color,          0,                       0,
                        0};
    png_chunk(&b, "IHDR", ihdr, 13);
    if (plte) png_chunk(&b, "PLTE", plte, plte_len);
    if (trns) png_chunk(&b, "tRNS", trns, trns_len);
    if (raw) {
        int zlen = 0;
        unsigned char *z = stbi_zlib_compress((unsigned char *)raw, (int)raw_len, &zlen, 8);
        png_chunk(&b, "IDAT", z, (size_t)zlen);
        free(z);
    } else {
        /* An IDAT that is not a valid zlib stream: headers only matter. */
        static const uint8_t junk[16] = {0x78, 0x9c, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
        png_chunk(&b, "IDAT", junk, sizeof(junk));
    }
    png_chunk(&b, "IEND", NULL, 0);
    return b;
}

static buffer png_header_only(uint32_t width, uint32_t height, int color) {
    return png_build(width, height, 8, color, NULL, 0, NULL, 0, NULL, 0);
}

/* ---- helpers ----------------------------------------------------------- */

static image_status decode(const buffer *b, uint64_t max_pixels, image_rgb *out, char *err, size_t errlen) {
    image_limits lim = {.max_pixels = max_pixels};
    out->width = -7; /* image_decode_rgb must reset this */
    out->pixels = (uint8_t *)err;
    err[0] = '\0';
    return image_decode_rgb(b->data, b->len, &lim, out, err, errlen);
}

static void fill_pattern(uint8_t *p, int w, int h, int comp) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < comp; c++)
                p[((size_t)y * w + x) * comp + c] = (uint8_t)(x * 37 + y * 91 + c * 53 + (x * y) % 7);
}

/* ---- tests ------------------------------------------------------------- */

static void test_detect(void) {
    static const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10};
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0};
    static const uint8_t bad_png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, 'X'};
    CHECK_EQ_INT(image_detect_format(jpeg, sizeof(jpeg)), IMAGE_FORMAT_JPEG);
    CHECK_EQ_INT(image_detect_format(jpeg, 3), IMAGE_FORMAT_JPEG);
    CHECK_EQ_INT(image_detect_format(jpeg, 2), IMAGE_FORMAT_UNKNOWN);
    CHECK_EQ_INT(image_detect_format(png, sizeof(png)), IMAGE_FORMAT_PNG);
    CHECK_EQ_INT(image_detect_format(png, 8), IMAGE_FORMAT_PNG);
    CHECK_EQ_INT(image_detect_format(png, 7), IMAGE_FORMAT_UNKNOWN);
    CHECK_EQ_INT(image_detect_format(bad_png, sizeof(bad_png)), IMAGE_FORMAT_UNKNOWN);
    CHECK_EQ_INT(image_detect_format((const uint8_t *)"GIF87a....", 10), IMAGE_FORMAT_GIF);
    CHECK_EQ_INT(image_detect_format((const uint8_t *)"GIF89a....", 10), IMAGE_FORMAT_GIF);
    CHECK_EQ_INT(image_detect_format((const uint8_t *)"GIF88a....", 10), IMAGE_FORMAT_UNKNOWN);
    CHECK_EQ_INT(image_detect_format((const uint8_t *)"GIF8", 4), IMAGE_FORMAT_UNKNOWN);
    CHECK_EQ_INT(image_detect_format((const uint8_t *)"BM\x36\x00", 4), IMAGE_FORMAT_BMP);
    CHECK_EQ_INT(image_detect_format((const uint8_t *)"B", 1), IMAGE_FORMAT_UNKNOWN);
    CHECK_EQ_INT(image_detect_format((const uint8_t *)"<html>", 6), IMAGE_FORMAT_UNKNOWN);
    CHECK_EQ_INT(image_detect_format((const uint8_t *)"RIFF\0\0\0\0WEBPVP8 ", 16), IMAGE_FORMAT_WEBP);
    CHECK_EQ_INT(image_detect_format((const uint8_t *)"RIFF\0\0\0\0WAVEfmt ", 16), IMAGE_FORMAT_UNKNOWN);
    CHECK_EQ_INT(image_detect_format((const uint8_t *)"", 0), IMAGE_FORMAT_UNKNOWN);
    CHECK_STR(image_format_name(IMAGE_FORMAT_JPEG), "jpeg");
    CHECK_STR(image_format_name(IMAGE_FORMAT_PNG), "png");
    CHECK_STR(image_format_name(IMAGE_FORMAT_GIF), "gif");
    CHECK_STR(image_format_name(IMAGE_FORMAT_BMP), "bmp");
    CHECK_STR(image_format_name(IMAGE_FORMAT_UNKNOWN), "unknown");
}

static void test_empty_and_unsupported(void) {
    char err[256];
    image_rgb out;
    buffer empty = {0};
    CHECK_EQ_INT(decode(&empty, 0, &out, err, sizeof(err)), IMAGE_ERR_EMPTY);
    CHECK_NULL(out.pixels);
    CHECK_EQ_INT(out.width, 0);
    CHECK(err[0] != '\0');
    uint8_t one = 0xFF;
    image_limits lim = {0};
    CHECK_EQ_INT(image_decode_rgb(&one, 0, &lim, &out, err, sizeof(err)), IMAGE_ERR_EMPTY);
    CHECK_EQ_INT(image_decode_rgb(&one, 1, NULL, &out, err, sizeof(err)), IMAGE_ERR_UNSUPPORTED);
    int w = -1, h = -1;
    image_format f = IMAGE_FORMAT_PNG;
    CHECK_EQ_INT(image_probe(&one, 0, &w, &h, &f, err, sizeof(err)), IMAGE_ERR_EMPTY);

    static const char *const texts[] = {
        "<!DOCTYPE html><html><body>not an image</body></html>",
        "hello world",
        "{\"image\": \"base64...\"}",
        "%PDF-1.4\n",
        "GIF88a is not a GIF",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        buffer t = {(uint8_t *)texts[i], strlen(texts[i]), 0};
        err[0] = '\0';
        CHECK_MSG(decode(&t, 0, &out, err, sizeof(err)) == IMAGE_ERR_UNSUPPORTED, "\"%s\" not unsupported",
                  texts[i]);
        CHECK_NULL(out.pixels);
        CHECK(err[0] != '\0');
        f = IMAGE_FORMAT_PNG;
        CHECK_EQ_INT(image_probe(t.data, t.len, &w, &h, &f, err, sizeof(err)), IMAGE_ERR_UNSUPPORTED);
        CHECK_EQ_INT(f, IMAGE_FORMAT_UNKNOWN);
    }
    /* Magic of an accepted format followed by junk: corrupt, not a crash. */
    static const char *const fakes[] = {"BMW is a car", "GIF89a", "GIF89a\x10\x00\x10\x00", "\xFF\xD8\xFF",
                                        "\xFF\xD8\xFF\xE0 junk junk junk junk", "\x89PNG\r\n\x1a\n",
                                        "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR"};
    for (size_t i = 0; i < sizeof(fakes) / sizeof(fakes[0]); i++) {
        buffer t = {(uint8_t *)fakes[i], strlen(fakes[i]), 0};
        if (i == 6) t.len = 16;
        CHECK_MSG(decode(&t, 0, &out, err, sizeof(err)) == IMAGE_ERR_CORRUPT, "fake #%zu not corrupt", i);
        CHECK_NULL(out.pixels);
        image_status ps = image_probe(t.data, t.len, &w, &h, &f, err, sizeof(err));
        CHECK_MSG(ps == IMAGE_ERR_CORRUPT, "probe of fake #%zu: status %d, %dx%d", i, (int)ps, w, h);
    }
}

static void test_png(void) {
    char err[256];
    image_rgb out;
    buffer b = {0};

    /* RGB round trip, odd width. */
    enum { W = 7, H = 5 };
    uint8_t rgb[W * H * 3];
    fill_pattern(rgb, W, H, 3);
    CHECK(stbi_write_png_to_func(buf_write_func, &b, W, H, 3, rgb, W * 3));
    if (CHECK_EQ_INT(decode(&b, 0, &out, err, sizeof(err)), IMAGE_OK)) {
        CHECK_EQ_INT(out.width, W);
        CHECK_EQ_INT(out.height, H);
        CHECK(memcmp(out.pixels, rgb, sizeof(rgb)) == 0);
        image_rgb_free(&out);
        CHECK_NULL(out.pixels);
        CHECK_EQ_INT(out.width, 0);
    }
    int pw = 0, ph = 0;
    image_format pf = IMAGE_FORMAT_UNKNOWN;
    CHECK_EQ_INT(image_probe(b.data, b.len, &pw, &ph, &pf, err, sizeof(err)), IMAGE_OK);
    CHECK_EQ_INT(pw, W);
    CHECK_EQ_INT(ph, H);
    CHECK_EQ_INT(pf, IMAGE_FORMAT_PNG);
    buf_free(&b);

    /* Gray: replicated into R, G and B. */
    uint8_t gray[W * H];
    fill_pattern(gray, W, H, 1);
    CHECK(stbi_write_png_to_func(buf_write_func, &b, W, H, 1, gray, W));
    if (CHECK_EQ_INT(decode(&b, 0, &out, err, sizeof(err)), IMAGE_OK)) {
        int ok = out.width == W && out.height == H;
        for (int i = 0; ok && i < W * H; i++)
            ok = out.pixels[3 * i] == gray[i] && out.pixels[3 * i + 1] == gray[i] && out.pixels[3 * i + 2] == gray[i];
        CHECK_MSG(ok, "gray PNG not replicated into RGB");
        image_rgb_free(&out);
    }
    buf_free(&b);

    /* RGBA: alpha dropped, colour values unchanged (not composited), even
     * where alpha is 0 or 128. */
    uint8_t rgba[W * H * 4];
    fill_pattern(rgba, W, H, 4);
    for (int i = 0; i < W * H; i++) rgba[4 * i + 3] = (uint8_t)(i % 3 == 0 ? 0 : i % 3 == 1 ? 128 : 255);
    CHECK(stbi_write_png_to_func(buf_write_func, &b, W, H, 4, rgba, W * 4));
    if (CHECK_EQ_INT(decode(&b, 0, &out, err, sizeof(err)), IMAGE_OK)) {
        int ok = out.width == W && out.height == H;
        for (int i = 0; ok && i < W * H; i++)
            ok = out.pixels[3 * i] == rgba[4 * i] && out.pixels[3 * i + 1] == rgba[4 * i + 1] &&
                 out.pixels[3 * i + 2] == rgba[4 * i + 2];
        CHECK_MSG(ok, "RGBA PNG: colour changed when dropping alpha");
        image_rgb_free(&out);
    }
    buf_free(&b);

    /* Gray + alpha. */
    uint8_t ga[W * H * 2];
    fill_pattern(ga, W, H, 2);
    CHECK(stbi_write_png_to_func(buf_write_func, &b, W, H, 2, ga, W * 2));
    if (CHECK_EQ_INT(decode(&b, 0, &out, err, sizeof(err)), IMAGE_OK)) {
        int ok = 1;
        for (int i = 0; ok && i < W * H; i++)
            ok = out.pixels[3 * i] == ga[2 * i] && out.pixels[3 * i + 1] == ga[2 * i] &&
                 out.pixels[3 * i + 2] == ga[2 * i];
        CHECK_MSG(ok, "gray+alpha PNG: wrong RGB");
        image_rgb_free(&out);
    }
    buf_free(&b);

    /* Palette with tRNS: looked up, transparency ignored. */
    {
        static const uint8_t plte[9] = {10, 20, 30, 200, 100, 50, 0, 255, 7};
        static const uint8_t trns[3] = {0, 128, 255};
        static const uint8_t raw[] = {0, 0, 1, 2, 0, /* row 0: filter 0, indices 0 1 2 0 */
                                      0, 2, 2, 1, 0};
        b = png_build(4, 2, 8, 3, raw, sizeof(raw), plte, 9, trns, 3);
        if (CHECK_EQ_INT(decode(&b, 0, &out, err, sizeof(err)), IMAGE_OK)) {
            static const int idx[8] = {0, 1, 2, 0, 2, 2, 1, 0};
            int ok = out.width == 4 && out.height == 2;
            for (int i = 0; ok && i < 8; i++) ok = memcmp(out.pixels + 3 * i, plte + 3 * idx[i], 3) == 0;
            CHECK_MSG(ok, "palette PNG: wrong colours");
            image_rgb_free(&out);
        }
        buf_free(&b);
    }

    /* 16-bit gray: PIL's I;16 -> RGB clips to 255 (it does not scale). */
    {
        static const uint8_t raw[] = {0, 0x00, 0x12, 0x00, 0xFF, 0x01, 0x00, 0xFF, 0xFF};
        b = png_build(4, 1, 16, 0, raw, sizeof(raw), NULL, 0, NULL, 0);
        if (CHECK_EQ_INT(decode(&b, 0, &out, err, sizeof(err)), IMAGE_OK)) {
            static const uint8_t want[4] = {0x12, 0xFF, 0xFF, 0xFF};
            int ok = out.width == 4 && out.height == 1;
            for (int i = 0; ok && i < 4; i++)
                ok = out.pixels[3 * i] == want[i] && out.pixels[3 * i + 1] == want[i] && out.pixels[3 * i + 2] == want[i];
            CHECK_MSG(ok, "16-bit gray PNG: got %u %u %u %u", out.pixels[0], out.pixels[3], out.pixels[6],
                      out.pixels[9]);
            image_rgb_free(&out);
        }
        buf_free(&b);
    }
    /* 16-bit RGB: the high byte of each sample. */
    {
        static const uint8_t raw[] = {0, 0x12, 0x34, 0xAB, 0xCD, 0x00, 0xFF, 0xFF, 0x00, 0x80, 0x01, 0x7F, 0xFF};
        b = png_build(2, 1, 16, 2, raw, sizeof(raw), NULL, 0, NULL, 0);
        if (CHECK_EQ_INT(decode(&b, 0, &out, err, sizeof(err)), IMAGE_OK)) {
            static const uint8_t want[6] = {0x12, 0xAB, 0x00, 0xFF, 0x80, 0x7F};
            CHECK(out.width == 2 && out.height == 1 && memcmp(out.pixels, want, 6) == 0);
            image_rgb_free(&out);
        }
        buf_free(&b);
    }
}

static void test_bmp(void) {
    char err[256];
    image_rgb out;
    buffer b = {0};
    enum { W = 7, H = 5 }; /* 21-byte rows: padded to 24 in the file */
    uint8_t rgb[W * H * 3];
    fill_pattern(rgb, W, H, 3);
    CHECK(stbi_write_bmp_to_func(buf_write_func, &b, W, H, 3, rgb));
    CHECK_EQ_INT(image_detect_format(b.data, b.len), IMAGE_FORMAT_BMP);
    if (b.len > 30) CHECK_EQ_INT(b.data[28], 24); /* biBitCount: a 24-bit BMP */
    if (CHECK_EQ_INT(decode(&b, 0, &out, err, sizeof(err)), IMAGE_OK)) {
        CHECK_EQ_INT(out.width, W);
        CHECK_EQ_INT(out.height, H);
        CHECK_MSG(memcmp(out.pixels, rgb, sizeof(rgb)) == 0, "24-bit BMP round trip not exact");
        image_rgb_free(&out);
    }
    int pw = 0, ph = 0;
    image_format pf = IMAGE_FORMAT_UNKNOWN;
    CHECK_EQ_INT(image_probe(b.data, b.len, &pw, &ph, &pf, err, sizeof(err)), IMAGE_OK);
    CHECK_EQ_INT(pw, W);
    CHECK_EQ_INT(ph, H);
    CHECK_EQ_INT(pf, IMAGE_FORMAT_BMP);
    /* Truncated in the pixel data: PIL refuses it ("image file is
     * truncated"), so must inferd; never a crash. */
    buffer t = {b.data, b.len / 2, 0};
    image_status st = decode(&t, 0, &out, err, sizeof(err));
    CHECK_MSG(st == IMAGE_ERR_CORRUPT, "BMP cut in half gave %d, want %d", (int)st, (int)IMAGE_ERR_CORRUPT);
    if (st == IMAGE_OK) image_rgb_free(&out);
    /* Only the last row's padding byte missing: PIL decodes it. */
    t.len = b.len - 1;
    st = decode(&t, 0, &out, err, sizeof(err));
    CHECK_MSG(st == IMAGE_OK, "BMP without its last padding byte gave %d", (int)st);
    if (st == IMAGE_OK) {
        CHECK(memcmp(out.pixels, rgb, sizeof(rgb)) == 0);
        image_rgb_free(&out);
    }
    buf_free(&b);
}

static void test_gif(void) {
    char err[256];
    image_rgb out;
    /* 2x1 GIF89a, global palette {red, blue}, pixels 0 1 (LZW min code size 2:
     * clear, 0, 1, end in 3-bit codes = 0x44 0x0A). */
    static const uint8_t gif[] = {'G',  'I',  'F',  '8',  '9',  'a',  2,    0,    1,    0,    0x80, 0,
                                  0,    255,  0,    0,    0,    0,    255,  ',',  0,    0,    0,    0,
                                  2,    0,    1,    0,    0,    2,    2,    0x44, 0x0A, 0,    ';'};
    buffer b = {(uint8_t *)gif, sizeof(gif), 0};
    if (CHECK_EQ_INT(decode(&b, 0, &out, err, sizeof(err)), IMAGE_OK)) {
        static const uint8_t want[6] = {255, 0, 0, 0, 0, 255};
        CHECK(out.width == 2 && out.height == 1 && memcmp(out.pixels, want, 6) == 0);
        image_rgb_free(&out);
    }
    int pw = 0, ph = 0;
    image_format pf = IMAGE_FORMAT_UNKNOWN;
    CHECK_EQ_INT(image_probe(gif, sizeof(gif), &pw, &ph, &pf, err, sizeof(err)), IMAGE_OK);
    CHECK(pw == 2 && ph == 1 && pf == IMAGE_FORMAT_GIF);

    /* A GIF whose screen claims 60000x60000: refused before decoding. */
    uint8_t big[sizeof(gif)];
    memcpy(big, gif, sizeof(gif));
    big[6] = (uint8_t)(60000 & 0xFF), big[7] = (uint8_t)(60000 >> 8);
    big[8] = (uint8_t)(60000 & 0xFF), big[9] = (uint8_t)(60000 >> 8);
    b.data = big;
    CHECK_EQ_INT(decode(&b, 50000000, &out, err, sizeof(err)), IMAGE_ERR_TOO_LARGE);
    CHECK_NULL(out.pixels);
}

static void test_jpeg(void) {
    char err[256];
    image_rgb out;
    buffer b = {0};
    enum { W = 40, H = 24 };
    uint8_t rgb[W * H * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = rgb + (y * W + x) * 3;
            p[0] = (uint8_t)(40 + x * 4);
            p[1] = (uint8_t)(60 + y * 6);
            p[2] = (uint8_t)(200 - x * 2 - y);
        }
    CHECK(stbi_write_jpg_to_func(buf_write_func, &b, W, H, 3, rgb, 95));
    CHECK_EQ_INT(image_detect_format(b.data, b.len), IMAGE_FORMAT_JPEG);
    if (CHECK_EQ_INT(decode(&b, 0, &out, err, sizeof(err)), IMAGE_OK)) {
        CHECK_EQ_INT(out.width, W);
        CHECK_EQ_INT(out.height, H);
        int maxdiff = 0;
        double sum = 0;
        for (int i = 0; i < W * H * 3; i++) {
            int d = abs((int)out.pixels[i] - (int)rgb[i]);
            if (d > maxdiff) maxdiff = d;
            sum += d;
        }
        CHECK_MSG(maxdiff <= 12, "JPEG max difference %d", maxdiff);
        CHECK_MSG(sum / (W * H * 3) <= 3.0, "JPEG mean difference %g", sum / (W * H * 3));
        image_rgb_free(&out);
    }
    int pw = 0, ph = 0;
    image_format pf = IMAGE_FORMAT_UNKNOWN;
    CHECK_EQ_INT(image_probe(b.data, b.len, &pw, &ph, &pf, err, sizeof(err)), IMAGE_OK);
    CHECK(pw == W && ph == H && pf == IMAGE_FORMAT_JPEG);

    /* Every truncation is refused (PIL refuses truncated files too). */
    {
        buffer t = {b.data, b.len / 2, 0};
        image_status st = decode(&t, 0, &out, err, sizeof(err));
        CHECK_MSG(st == IMAGE_ERR_CORRUPT, "JPEG cut in half gave %d", (int)st);
        CHECK_NULL(out.pixels);
        if (st == IMAGE_OK) image_rgb_free(&out);
        int wrong = 0;
        size_t first_wrong = 0;
        for (size_t n = 3; n < b.len; n++) {
            t.len = n;
            st = decode(&t, 0, &out, err, sizeof(err));
            if (st != IMAGE_ERR_CORRUPT) {
                if (!wrong++) first_wrong = n;
                if (st == IMAGE_OK) image_rgb_free(&out);
            }
        }
        CHECK_MSG(wrong == 0, "%d of %zu JPEG truncations not CORRUPT (first at %zu bytes)", wrong, b.len - 3,
                  first_wrong);
    }

    /* The pixel limit applies before decoding: patch SOF0 to 65000x65000. */
    size_t sof = 0;
    for (size_t i = 2; i + 9 < b.len; i++)
        if (b.data[i] == 0xFF && b.data[i + 1] == 0xC0) {
            sof = i;
            break;
        }
    if (CHECK_MSG(sof != 0, "no SOF0 marker in the written JPEG")) {
        CHECK_EQ_INT((b.data[sof + 5] << 8) | b.data[sof + 6], H);
        CHECK_EQ_INT((b.data[sof + 7] << 8) | b.data[sof + 8], W);
        b.data[sof + 5] = (uint8_t)(65000 >> 8), b.data[sof + 6] = (uint8_t)(65000 & 0xFF);
        b.data[sof + 7] = (uint8_t)(65000 >> 8), b.data[sof + 8] = (uint8_t)(65000 & 0xFF);
        CHECK_EQ_INT(decode(&b, 50000000, &out, err, sizeof(err)), IMAGE_ERR_TOO_LARGE);
        CHECK_NULL(out.pixels);
        CHECK_CONTAINS(err, "65000");
        CHECK_EQ_INT(image_probe(b.data, b.len, &pw, &ph, &pf, err, sizeof(err)), IMAGE_OK);
        CHECK(pw == 65000 && ph == 65000);
    }
    buf_free(&b);

    /* Gray JPEG: R == G == B everywhere. */
    uint8_t gray[W * H];
    for (int i = 0; i < W * H; i++) gray[i] = (uint8_t)(i % W * 5 + i / W);
    CHECK(stbi_write_jpg_to_func(buf_write_func, &b, W, H, 1, gray, 95));
    if (CHECK_EQ_INT(decode(&b, 0, &out, err, sizeof(err)), IMAGE_OK)) {
        int same = out.width == W && out.height == H, maxdiff = 0;
        for (int i = 0; same && i < W * H; i++) {
            same = out.pixels[3 * i] == out.pixels[3 * i + 1] && out.pixels[3 * i] == out.pixels[3 * i + 2];
            int d = abs((int)out.pixels[3 * i] - (int)gray[i]);
            if (d > maxdiff) maxdiff = d;
        }
        CHECK_MSG(same, "gray JPEG: channels differ");
        CHECK_MSG(maxdiff <= 12, "gray JPEG max difference %d", maxdiff);
        image_rgb_free(&out);
    }
    buf_free(&b);
}

static void test_png_truncated(void) {
    char err[256];
    image_rgb out;
    buffer b = {0};
    enum { W = 64, H = 64 };
    uint8_t *noise = malloc(W * H * 3);
    if (!CHECK_NOT_NULL(noise)) return;
    for (int i = 0; i < W * H * 3; i++) noise[i] = rng_byte();
    CHECK(stbi_write_png_to_func(buf_write_func, &b, W, H, 3, noise, W * 3));
    CHECK(b.len > 1000);

    buffer t = {b.data, 100, 0};
    CHECK_EQ_INT(decode(&t, 0, &out, err, sizeof(err)), IMAGE_ERR_CORRUPT);
    CHECK_NULL(out.pixels);
    CHECK(err[0] != '\0');
    t.len = b.len / 2;
    CHECK_EQ_INT(decode(&t, 0, &out, err, sizeof(err)), IMAGE_ERR_CORRUPT);
    CHECK_NULL(out.pixels);

    /* Every cut that leaves pixel data missing: corrupt (never OK, never a
     * crash). The zlib stream ends 20 bytes before the end of the file
     * (adler32, IDAT CRC, IEND): PIL itself accepts cuts in those 20 bytes. */
    int wrong = 0;
    size_t first_wrong = 0;
    for (size_t n = 8; n < b.len - 20; n++) {
        t.len = n;
        image_status st = decode(&t, 0, &out, err, sizeof(err));
        if (st != IMAGE_ERR_CORRUPT) {
            if (!wrong++) first_wrong = n;
            if (st == IMAGE_OK) image_rgb_free(&out);
        }
    }
    CHECK_MSG(wrong == 0, "%d of %zu PNG truncations not CORRUPT (first at %zu bytes)", wrong, b.len - 28,
              first_wrong);
    /* Only the IEND chunk missing: PIL decodes such a file (all pixel data is
     * there), so inferd must too, with the same pixels. */
    t.len = b.len - 12;
    image_status st = decode(&t, 0, &out, err, sizeof(err));
    CHECK_MSG(st == IMAGE_OK, "PNG without IEND (PIL decodes it): status %d (%s)", (int)st, err);
    if (st == IMAGE_OK) {
        CHECK(out.width == W && out.height == H && memcmp(out.pixels, noise, W * H * 3) == 0);
        image_rgb_free(&out);
    }
    /* Shorter than the signature: not recognisable at all. */
    t.len = 7;
    CHECK_EQ_INT(decode(&t, 0, &out, err, sizeof(err)), IMAGE_ERR_UNSUPPORTED);

    /* Corrupted compressed data (flipped bytes in IDAT) with the size intact:
     * PIL refuses it ("broken data stream": zlib's adler32 or an invalid
     * deflate stream), whether or not the chunk CRCs were fixed up. */
    uint8_t *copy = malloc(b.len);
    if (CHECK_NOT_NULL(copy)) {
        static const char *const what[3] = {"damaged IDAT, stale CRC", "damaged IDAT, CRC recomputed",
                                            "only the zlib adler32 wrong, CRC recomputed"};
        for (int variant = 0; variant < 3; variant++) {
            memcpy(copy, b.data, b.len);
            if (variant < 2) {
                for (size_t i = 60; i < b.len - 40; i += 97) copy[i] ^= 0x5A;
            } else {
                copy[b.len - 12 - 4 - 1] ^= 0xFF; /* last byte of the zlib stream: adler32 */
            }
            if (variant > 0) png_fix_crcs(copy, b.len);
            buffer c = {copy, b.len, 0};
            st = decode(&c, 0, &out, err, sizeof(err));
            CHECK_MSG(st == IMAGE_ERR_CORRUPT, "PNG with %s: status %d, want %d (PIL: broken data stream)",
                      what[variant], (int)st, (int)IMAGE_ERR_CORRUPT);
            if (st == IMAGE_OK) image_rgb_free(&out);
        }
        free(copy);
    }
    free(noise);
    buf_free(&b);
}

static void test_png_limits(void) {
    char err[256];
    image_rgb out;
    const uint64_t limit = 50000000; /* the default max_pixels, 50e6 */

    /* The hand-built header is a well-formed PNG: check its CRC helper. */
    CHECK_EQ_U64(crc32_bytes((const uint8_t *)"123456789", 9), 0xCBF43926u);
    buffer b = png_header_only(300, 200, 2);
    CHECK_EQ_U64(crc32_bytes(b.data + 12, 17), ((uint32_t)b.data[29] << 24) | ((uint32_t)b.data[30] << 16) |
                                                    ((uint32_t)b.data[31] << 8) | b.data[32]);
    /* image_probe reads the header only: dimensions of an image whose pixel
     * data is garbage. */
    int pw = 0, ph = 0;
    image_format pf = IMAGE_FORMAT_UNKNOWN;
    CHECK_EQ_INT(image_probe(b.data, b.len, &pw, &ph, &pf, err, sizeof(err)), IMAGE_OK);
    CHECK_EQ_INT(pw, 300);
    CHECK_EQ_INT(ph, 200);
    CHECK_EQ_INT(pf, IMAGE_FORMAT_PNG);
    CHECK_EQ_INT(decode(&b, limit, &out, err, sizeof(err)), IMAGE_ERR_CORRUPT);
    CHECK_NULL(out.pixels);
    buf_free(&b);

    /* Above the limit -> TOO_LARGE, decided from the header alone. */
    static const struct {
        uint32_t w, h;
        int color;
    } big[] = {
        {8000, 8000, 2},     /* 64e6 RGB */
        {20000, 20000, 0},   /* 4e8 gray */
        {65000, 65000, 2},   /* 4.2e9 RGB: the classic decompression bomb */
        {65000, 65000, 6},   /* RGBA */
        {65000, 65000, 0},   /* gray */
        {100000, 100000, 2}, /* 1e10 */
        {50000001, 1, 2},    /* one row past the limit */
    };
    for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
        b = png_header_only(big[i].w, big[i].h, big[i].color);
        err[0] = '\0';
        image_status st = decode(&b, limit, &out, err, sizeof(err));
        CHECK_MSG(st == IMAGE_ERR_TOO_LARGE, "%ux%u PNG (color type %d) with max_pixels 50e6: status %d (%s), want %d",
                  big[i].w, big[i].h, big[i].color, (int)st, err, (int)IMAGE_ERR_TOO_LARGE);
        CHECK_NULL(out.pixels);
        if (st == IMAGE_OK) image_rgb_free(&out);
        /* and the header alone still tells the size */
        pw = ph = 0;
        st = image_probe(b.data, b.len, &pw, &ph, &pf, err, sizeof(err));
        CHECK_MSG(st == IMAGE_OK && (uint32_t)pw == big[i].w && (uint32_t)ph == big[i].h,
                  "probe of %ux%u PNG: status %d (%s), %dx%d", big[i].w, big[i].h, (int)st, err, pw, ph);
        buf_free(&b);
    }

    /* Exactly at the limit is allowed; one pixel more is not. */
    enum { W = 4, H = 3 };
    uint8_t rgb[W * H * 3];
    fill_pattern(rgb, W, H, 3);
    stbi_write_png_to_func(buf_write_func, &b, W, H, 3, rgb, W * 3);
    CHECK_EQ_INT(decode(&b, W * H, &out, err, sizeof(err)), IMAGE_OK);
    image_rgb_free(&out);
    CHECK_EQ_INT(decode(&b, W * H - 1, &out, err, sizeof(err)), IMAGE_ERR_TOO_LARGE);
    CHECK_NULL(out.pixels);
    CHECK_EQ_INT(decode(&b, 0, &out, err, sizeof(err)), IMAGE_OK); /* 0 = no limit */
    image_rgb_free(&out);
    CHECK_EQ_INT(image_decode_rgb(b.data, b.len, NULL, &out, err, sizeof(err)), IMAGE_OK);
    image_rgb_free(&out);
    buf_free(&b);

    /* Zero width or height: corrupt, whatever the limit. */
    static const uint32_t zero[][2] = {{0, 10}, {10, 0}, {0, 0}};
    for (size_t i = 0; i < 3; i++) {
        b = png_header_only(zero[i][0], zero[i][1], 2);
        CHECK_MSG(decode(&b, limit, &out, err, sizeof(err)) == IMAGE_ERR_CORRUPT, "%ux%u PNG not corrupt",
                  zero[i][0], zero[i][1]);
        CHECK_NULL(out.pixels);
        CHECK_MSG(decode(&b, 0, &out, err, sizeof(err)) == IMAGE_ERR_CORRUPT, "%ux%u PNG not corrupt (no limit)",
                  zero[i][0], zero[i][1]);
        CHECK_EQ_INT(image_probe(b.data, b.len, &pw, &ph, &pf, err, sizeof(err)), IMAGE_ERR_CORRUPT);
        buf_free(&b);
    }
    /* Width past 2^31: corrupt or too large, never decoded. */
    b = png_header_only(0x80000001u, 1, 2);
    image_status st = decode(&b, limit, &out, err, sizeof(err));
    CHECK(st == IMAGE_ERR_CORRUPT || st == IMAGE_ERR_TOO_LARGE);
    CHECK_NULL(out.pixels);
    buf_free(&b);
}

static void test_bmp_limits(void) {
    char err[256];
    image_rgb out;
    /* A 24-bit BMP header claiming 65000x65000, without the pixels. */
    buffer b = {0};
    buf_append(&b, "BM", 2);
    uint8_t zeros[64] = {0};
    uint8_t le[4];
    uint32_t vals[] = {54u + 16u, 0, 54}; /* file size, reserved, pixel offset */
    for (int i = 0; i < 3; i++) {
        le[0] = (uint8_t)vals[i], le[1] = (uint8_t)(vals[i] >> 8), le[2] = (uint8_t)(vals[i] >> 16),
        le[3] = (uint8_t)(vals[i] >> 24);
        buf_append(&b, le, 4);
    }
    uint32_t info[] = {40, 65000, 65000};
    for (int i = 0; i < 3; i++) {
        le[0] = (uint8_t)info[i], le[1] = (uint8_t)(info[i] >> 8), le[2] = (uint8_t)(info[i] >> 16),
        le[3] = (uint8_t)(info[i] >> 24);
        buf_append(&b, le, 4);
    }
    put_le16(&b, 1);  /* planes */
    put_le16(&b, 24); /* bits */
    buf_append(&b, zeros, 24); /* compression .. important colours */
    buf_append(&b, zeros, 16); /* a few pixel bytes */
    CHECK_EQ_INT(b.len, 54 + 16);
    CHECK_EQ_INT(decode(&b, 50000000, &out, err, sizeof(err)), IMAGE_ERR_TOO_LARGE);
    CHECK_NULL(out.pixels);
    int pw = 0, ph = 0;
    image_format pf = IMAGE_FORMAT_UNKNOWN;
    CHECK_EQ_INT(image_probe(b.data, b.len, &pw, &ph, &pf, err, sizeof(err)), IMAGE_OK);
    CHECK(pw == 65000 && ph == 65000 && pf == IMAGE_FORMAT_BMP);
    buf_free(&b);
}

int main(void) {
    test_detect();
    test_empty_and_unsupported();
    test_png();
    test_bmp();
    test_gif();
    test_jpeg();
    test_png_truncated();
    test_png_limits();
    test_bmp_limits();
    return check_summary();
}
