/* test_decoders: the per-format decoders added by issue 13 (WebP, TIFF,
 * HEIC/AVIF) and exif.h, through image.h as the server uses them: sniffing,
 * exact pixels of lossless files, the pixel limit enforced from the header
 * before decoding (a header claiming a huge image is refused at once),
 * every truncation refused without a crash, unsupported variants answered
 * with the accepted list, and the EXIF orientation reader and transposer.
 * Images are made here: WebP with libwebp's encoder, TIFF byte by byte,
 * HEIC/AVIF headers byte by byte (pixel parity for those formats is
 * parity_reference's job). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <webp/encode.h>

#include "check.h"
#include "exif.h"
#include "image.h"

typedef struct {
    uint8_t *data;
    size_t len, cap;
} buffer;

static void put(buffer *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
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

static void put_le16(buffer *b, unsigned v) {
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(b, x, 2);
}

static void put_le32(buffer *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put_be32(buffer *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    put(b, x, 4);
}

static image_status decode(const buffer *b, uint64_t max_pixels, image_rgb *out, char *err, size_t errlen) {
    image_limits lim = {.max_pixels = max_pixels};
    err[0] = '\0';
    return image_decode_rgb(b->data, b->len, &lim, out, err, errlen);
}

static uint8_t pattern(int x, int y, int c) { return (uint8_t)(x * 37 + y * 91 + c * 53 + (x * y) % 7); }

/* Every prefix of a valid file shorter than `needed` must be refused, and
 * none may crash. */
static void check_truncations(const buffer *b, size_t needed, const char *what) {
    int refused = 0, total = 0;
    for (size_t n = 0; n < needed; n++) {
        buffer cut = {b->data, n, n};
        image_rgb img;
        char err[256];
        image_status st = decode(&cut, 0, &img, err, sizeof(err));
        total++;
        if (st != IMAGE_OK)
            refused++;
        else
            image_rgb_free(&img);
    }
    CHECK_MSG(refused == total, "%s: %d of %d truncations decoded", what, total - refused, total);
}

/* ---- WebP ------------------------------------------------------------------ */

static buffer webp_lossless(int w, int h) {
    uint8_t *rgb = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) rgb[((size_t)y * w + x) * 3 + c] = pattern(x, y, c);
    uint8_t *out = NULL;
    size_t n = WebPEncodeLosslessRGB(rgb, w, h, w * 3, &out);
    buffer b = {0};
    put(&b, out, n);
    WebPFree(out);
    free(rgb);
    return b;
}

static void test_webp(void) {
    buffer b = webp_lossless(7, 5);
    if (!CHECK(b.len > 20)) return;
    CHECK_EQ_INT(image_detect_format(b.data, b.len), IMAGE_FORMAT_WEBP);
    CHECK_STR(image_format_name(IMAGE_FORMAT_WEBP), "webp");
    int w = 0, h = 0;
    image_format f = IMAGE_FORMAT_UNKNOWN;
    char err[256];
    CHECK_EQ_INT(image_probe(b.data, b.len, &w, &h, &f, err, sizeof(err)), IMAGE_OK);
    CHECK(w == 7 && h == 5 && f == IMAGE_FORMAT_WEBP);
    image_rgb img;
    if (CHECK_EQ_INT(decode(&b, 0, &img, err, sizeof(err)), IMAGE_OK)) {
        int same = img.width == 7 && img.height == 5;
        for (int y = 0; same && y < 5; y++)
            for (int x = 0; x < 7; x++)
                for (int c = 0; c < 3; c++) same &= img.pixels[((size_t)y * 7 + x) * 3 + c] == pattern(x, y, c);
        CHECK_MSG(same, "lossless WebP pixels differ from what was encoded");
        image_rgb_free(&img);
    }
    CHECK_EQ_INT(decode(&b, 34, &img, err, sizeof(err)), IMAGE_ERR_TOO_LARGE);
    check_truncations(&b, b.len, "WebP");
    /* Corrupt bitstream after a valid header: a 400, naming WebP. */
    for (size_t i = 30; i < b.len; i++) b.data[i] ^= 0x5A;
    image_status st = decode(&b, 0, &img, err, sizeof(err));
    CHECK(st == IMAGE_ERR_CORRUPT);
    if (st == IMAGE_OK) image_rgb_free(&img);
    CHECK_MSG(strstr(err, "WebP") != NULL, "error does not name the format: %s", err);
    free(b.data);

    /* A VP8X header claiming a 16384x16384 canvas with no image data: the
     * limit answers from the header alone. */
    buffer x = {0};
    put(&x, "RIFF", 4);
    put_le32(&x, 4 + 18);
    put(&x, "WEBPVP8X", 8);
    put_le32(&x, 10);
    uint8_t flags[4] = {0, 0, 0, 0};
    put(&x, flags, 4);
    uint32_t cw = 16384 - 1, ch = 16384 - 1;
    uint8_t dims[6] = {(uint8_t)cw, (uint8_t)(cw >> 8), (uint8_t)(cw >> 16),
                       (uint8_t)ch, (uint8_t)(ch >> 8), (uint8_t)(ch >> 16)};
    put(&x, dims, 6);
    CHECK_EQ_INT(image_probe(x.data, x.len, &w, &h, &f, err, sizeof(err)), IMAGE_OK);
    CHECK(w == 16384 && h == 16384);
    CHECK_EQ_INT(decode(&x, 50000000, &img, err, sizeof(err)), IMAGE_ERR_TOO_LARGE);
    CHECK_EQ_INT(decode(&x, 0, &img, err, sizeof(err)), IMAGE_ERR_CORRUPT);
    free(x.data);
}

/* ---- TIFF ------------------------------------------------------------------ */

typedef struct {
    uint16_t tag, type;
    uint32_t count, value;
} ifd_entry;

/* A little-endian, one-strip TIFF: header, pixel data at offset 8, then
 * the IFD (entries must be in tag order; `extra` is appended data that an
 * entry can point at, e.g. a colormap, whose offset is passed back). */
static buffer tiff_build(const ifd_entry *entries, int count, const uint8_t *pixels, size_t pixel_len) {
    buffer b = {0};
    put(&b, "II*\0", 4);
    uint32_t ifd = (uint32_t)(8 + pixel_len + (pixel_len & 1));
    put_le32(&b, ifd);
    put(&b, pixels, pixel_len);
    if (pixel_len & 1) put(&b, "", 1);
    put_le16(&b, (unsigned)count);
    for (int i = 0; i < count; i++) {
        put_le16(&b, entries[i].tag);
        put_le16(&b, entries[i].type);
        put_le32(&b, entries[i].count);
        if (entries[i].type == 3 && entries[i].count == 1) {
            put_le16(&b, entries[i].value);
            put_le16(&b, 0);
        } else {
            put_le32(&b, entries[i].value);
        }
    }
    put_le32(&b, 0);
    return b;
}

enum { SHORT = 3, LONG = 4 };

static buffer tiff_rgb(uint32_t w, uint32_t h, uint16_t orientation, uint16_t sample_format, uint8_t *pixels) {
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) pixels[(y * w + x) * 3 + c] = pattern((int)x, (int)y, c);
    size_t len = (size_t)w * h * 3;
    /* BitsPerSample with count 3 needs an offset; 8,8,8 stored after the IFD
     * is avoided by using count 1 (libtiff and Pillow both accept it). */
    ifd_entry e[] = {
        {256, LONG, 1, w},          {257, LONG, 1, h},      {258, SHORT, 1, 8},
        {259, SHORT, 1, 1},         {262, SHORT, 1, 2},     {273, LONG, 1, 8},
        {274, SHORT, 1, orientation}, {277, SHORT, 1, 3},   {278, LONG, 1, h},
        {279, LONG, 1, (uint32_t)len}, {339, SHORT, 1, sample_format},
    };
    return tiff_build(e, (int)(sizeof(e) / sizeof(e[0])), pixels, len);
}

static void test_tiff(void) {
    uint8_t px[5 * 3 * 3];
    buffer b = tiff_rgb(5, 3, 1, 1, px);
    CHECK_EQ_INT(image_detect_format(b.data, b.len), IMAGE_FORMAT_TIFF);
    CHECK_EQ_INT(image_detect_format((const uint8_t *)"MM\0*", 4), IMAGE_FORMAT_TIFF);
    CHECK_EQ_INT(image_detect_format((const uint8_t *)"II+\0", 4), IMAGE_FORMAT_UNKNOWN); /* BigTIFF */
    char err[256];
    image_rgb img;
    if (CHECK_EQ_INT(decode(&b, 0, &img, err, sizeof(err)), IMAGE_OK)) {
        CHECK(img.width == 5 && img.height == 3 && memcmp(img.pixels, px, sizeof(px)) == 0);
        image_rgb_free(&img);
    } else {
        fprintf(stderr, "  %s\n", err);
    }
    CHECK_EQ_INT(decode(&b, 14, &img, err, sizeof(err)), IMAGE_ERR_TOO_LARGE);
    /* The last 4 bytes, the next-IFD pointer, are tolerated missing: Pillow
     * only warns about them too. */
    check_truncations(&b, b.len - 4, "TIFF");
    free(b.data);

    /* Orientation 6 (rotate 270): Pillow's TIFF loader applies it on open,
     * with either exif_orientation setting, so probe and decode are 3x5. */
    b = tiff_rgb(5, 3, 6, 1, px);
    int w = 0, h = 0;
    CHECK_EQ_INT(image_probe(b.data, b.len, &w, &h, NULL, err, sizeof(err)), IMAGE_OK);
    CHECK(w == 3 && h == 5);
    if (CHECK_EQ_INT(decode(&b, 0, &img, err, sizeof(err)), IMAGE_OK)) {
        /* out(x, y) = src(y, H-1-x) with H = 3 */
        int same = img.width == 3 && img.height == 5;
        for (int y = 0; same && y < 5; y++)
            for (int x = 0; x < 3; x++)
                same &= memcmp(img.pixels + ((size_t)y * 3 + x) * 3, px + ((size_t)(2 - x) * 5 + y) * 3, 3) == 0;
        CHECK_MSG(same, "orientation 6 TIFF not rotated as Pillow rotates it");
        image_rgb_free(&img);
    }
    free(b.data);

    /* Floating-point samples: an unsupported variant, 415 with the list. */
    b = tiff_rgb(5, 3, 1, 3, px);
    CHECK_EQ_INT(decode(&b, 0, &img, err, sizeof(err)), IMAGE_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(err, "accepted") != NULL, "415 message without the accepted list: %s", err);
    free(b.data);

    /* A header claiming 100000 x 100000 with 3 bytes of data: the limit
     * answers from the header, before libtiff reads a strip. */
    uint8_t tiny[3] = {1, 2, 3};
    ifd_entry huge[] = {
        {256, LONG, 1, 100000}, {257, LONG, 1, 100000}, {258, SHORT, 1, 8}, {259, SHORT, 1, 5},
        {262, SHORT, 1, 2},     {273, LONG, 1, 8},      {277, SHORT, 1, 3}, {278, LONG, 1, 100000},
        {279, LONG, 1, 3},
    };
    b = tiff_build(huge, (int)(sizeof(huge) / sizeof(huge[0])), tiny, sizeof(tiny));
    CHECK_EQ_INT(image_probe(b.data, b.len, &w, &h, NULL, err, sizeof(err)), IMAGE_OK);
    CHECK(w == 100000 && h == 100000);
    CHECK_EQ_INT(decode(&b, 50000000, &img, err, sizeof(err)), IMAGE_ERR_TOO_LARGE);
    free(b.data);

    /* Tiles: 24 x 16 RGB in one 32 x 16 tile (overhanging the image, as
     * tile sizes are multiples of 16) decodes; the same header asking for a
     * 65536 x 65536 tile (12.9 GB, found by fuzz_tiff) is refused before
     * anything is allocated. */
    uint8_t tile_px[32 * 16 * 3];
    for (int y = 0; y < 16; y++)
        for (int x = 0; x < 32; x++)
            for (int c = 0; c < 3; c++) tile_px[(y * 32 + x) * 3 + c] = pattern(x, y, c);
    for (int huge_tile = 0; huge_tile <= 1; huge_tile++) {
        uint32_t side_w = huge_tile ? 65536 : 32, side_h = huge_tile ? 65536 : 16;
        ifd_entry tiled[] = {
            {256, LONG, 1, 24},    {257, LONG, 1, 16},     {258, SHORT, 1, 8},          {259, SHORT, 1, 1},
            {262, SHORT, 1, 2},    {277, SHORT, 1, 3},     {322, LONG, 1, side_w},      {323, LONG, 1, side_h},
            {324, LONG, 1, 8},     {325, LONG, 1, (uint32_t)sizeof(tile_px)},
        };
        b = tiff_build(tiled, (int)(sizeof(tiled) / sizeof(tiled[0])), tile_px, sizeof(tile_px));
        image_status got = decode(&b, 0, &img, err, sizeof(err));
        if (huge_tile) {
            CHECK_EQ_INT(got, IMAGE_ERR_CORRUPT);
            CHECK_MSG(strstr(err, "tile larger than the image") != NULL, "huge tile refused: %s", err);
        } else if (CHECK_EQ_INT(got, IMAGE_OK)) {
            int same = img.width == 24 && img.height == 16;
            for (int y = 0; same && y < 16; y++)
                same &= memcmp(img.pixels + (size_t)y * 24 * 3, tile_px + (size_t)y * 32 * 3, 24 * 3) == 0;
            CHECK_MSG(same, "a tile overhanging the image: its part inside decoded");
            image_rgb_free(&img);
        } else {
            fprintf(stderr, "  %s\n", err);
        }
        free(b.data);
    }

    /* 1-bit MinIsWhite (0 = white), 10 pixels: bits 1010000011 then padding. */
    uint8_t bits[2] = {0xA0, 0xC0};
    ifd_entry bilevel[] = {
        {256, LONG, 1, 10}, {257, LONG, 1, 1},  {258, SHORT, 1, 1}, {259, SHORT, 1, 1},
        {262, SHORT, 1, 0}, {273, LONG, 1, 8}, {277, SHORT, 1, 1}, {278, LONG, 1, 1},
        {279, LONG, 1, 2},
    };
    b = tiff_build(bilevel, (int)(sizeof(bilevel) / sizeof(bilevel[0])), bits, sizeof(bits));
    if (CHECK_EQ_INT(decode(&b, 0, &img, err, sizeof(err)), IMAGE_OK)) {
        static const uint8_t want[10] = {0, 255, 0, 255, 255, 255, 255, 255, 0, 0};
        int same = img.width == 10 && img.height == 1;
        for (int x = 0; same && x < 10; x++)
            same &= img.pixels[3 * x] == want[x] && img.pixels[3 * x + 1] == want[x] && img.pixels[3 * x + 2] == want[x];
        CHECK_MSG(same, "MinIsWhite bilevel TIFF not inverted as Pillow's 1;I");
        image_rgb_free(&img);
    }
    free(b.data);
}

/* ---- HEIC / AVIF ------------------------------------------------------------ */

static buffer heif_ftyp_only(const char *brand) {
    buffer b = {0};
    put_be32(&b, 24);
    put(&b, "ftyp", 4);
    put(&b, brand, 4);
    put_be32(&b, 0);
    put(&b, "mif1", 4);
    put(&b, brand, 4);
    return b;
}

static void test_heif(void) {
    const char *brands[] = {"heic", "avif"};
    for (int i = 0; i < 2; i++) {
        buffer b = heif_ftyp_only(brands[i]);
        CHECK_EQ_INT(image_detect_format(b.data, b.len), IMAGE_FORMAT_HEIF);
        char err[256];
        image_rgb img;
        /* A file type box and nothing else: no meta box, a 400 naming the format. */
        image_status st = decode(&b, 0, &img, err, sizeof(err));
        CHECK_MSG(st == IMAGE_ERR_CORRUPT, "%s without boxes: status %d (%s)", brands[i], st, err);
        if (st == IMAGE_OK) image_rgb_free(&img);
        CHECK_MSG(strstr(err, "HEIC/AVIF") != NULL, "error does not name the format: %s", err);
        check_truncations(&b, b.len, brands[i]);
        free(b.data);
    }
    /* An MP4 video is ISO-BMFF too, but not an image libheif opens. */
    buffer mp4 = heif_ftyp_only("isom");
    CHECK_EQ_INT(image_detect_format(mp4.data, mp4.len), IMAGE_FORMAT_UNKNOWN);
    free(mp4.data);
}

/* ---- 415 lists the table ------------------------------------------------- */

static void test_unsupported_message(void) {
    char err[256];
    int w, h;
    CHECK_EQ_INT(image_probe((const uint8_t *)"<html></html>", 13, &w, &h, NULL, err, sizeof(err)),
                 IMAGE_ERR_UNSUPPORTED);
    const char *names[] = {"JPEG", "PNG", "GIF", "BMP", "WebP", "TIFF", "HEIC/AVIF"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        CHECK_MSG(strstr(err, names[i]) != NULL, "415 message does not list %s: %s", names[i], err);
}

/* ---- exif.h ------------------------------------------------------------------ */

static buffer exif_block(int big_endian, uint16_t type, uint32_t count, uint32_t value, int prefix) {
    buffer b = {0};
    if (prefix) put(&b, "Exif\0\0", 6);
    uint8_t hdr[8];
    if (big_endian)
        memcpy(hdr, "MM\0*\0\0\0\x08", 8);
    else
        memcpy(hdr, "II*\0\x08\0\0\0", 8);
    put(&b, hdr, 8);
    uint8_t e[2 + 12 + 4] = {0};
#define W16(p, v) (big_endian ? ((p)[0] = (uint8_t)((v) >> 8), (p)[1] = (uint8_t)(v)) : ((p)[0] = (uint8_t)(v), (p)[1] = (uint8_t)((v) >> 8)))
#define W32(p, v) (big_endian ? ((p)[0] = (uint8_t)((v) >> 24), (p)[1] = (uint8_t)((v) >> 16), (p)[2] = (uint8_t)((v) >> 8), (p)[3] = (uint8_t)(v)) \
                              : ((p)[3] = (uint8_t)((v) >> 24), (p)[2] = (uint8_t)((v) >> 16), (p)[1] = (uint8_t)((v) >> 8), (p)[0] = (uint8_t)(v)))
    W16(e, 1);
    W16(e + 2, 0x0112);
    W16(e + 4, type);
    W32(e + 6, count);
    if (type == 3)
        W16(e + 10, value);
    else
        W32(e + 10, value);
#undef W16
#undef W32
    put(&b, e, sizeof(e));
    return b;
}

static void test_exif(void) {
    for (int be = 0; be < 2; be++) {
        for (uint32_t o = 1; o <= 8; o++) {
            buffer b = exif_block(be, 3, 1, o, be);
            CHECK_EQ_INT(exif_orientation(b.data, b.len), (int)o);
            /* a cut inside the entry reads as "absent", never out of bounds */
            size_t entry_end = (be ? 6u : 0u) + 8 + 2 + 12;
            int cuts_ok = 1;
            for (size_t n = 0; n < b.len; n++) cuts_ok &= exif_orientation(b.data, n) == (n < entry_end ? 1 : (int)o);
            CHECK_MSG(cuts_ok, "a cut EXIF block read wrongly (orientation %u)", (unsigned)o);
            free(b.data);
        }
        buffer l = exif_block(be, 4, 1, 6, 0);
        CHECK_EQ_INT(exif_orientation(l.data, l.len), 6); /* LONG read like SHORT */
        free(l.data);
        buffer two = exif_block(be, 3, 2, 6, 0);
        CHECK_EQ_INT(exif_orientation(two.data, two.len), 1); /* a tuple: exif_transpose ignores it */
        free(two.data);
        buffer bad = exif_block(be, 3, 1, 9, 0);
        CHECK_EQ_INT(exif_orientation(bad.data, bad.len), 1);
        free(bad.data);
    }
    CHECK_EQ_INT(exif_orientation(NULL, 0), 1);
    CHECK_EQ_INT(exif_orientation((const uint8_t *)"Exif\0\0garbage!", 14), 1);

    /* Each orientation as PIL's transpose methods move a 3x2 image's pixels:
     * source pixel index (y*3+x) expected at each output position. */
    static const int want[9][6] = {
        {0}, {0, 1, 2, 3, 4, 5},
        {2, 1, 0, 5, 4, 3}, /* 2 FLIP_LEFT_RIGHT */
        {5, 4, 3, 2, 1, 0}, /* 3 ROTATE_180 */
        {3, 4, 5, 0, 1, 2}, /* 4 FLIP_TOP_BOTTOM */
        {0, 3, 1, 4, 2, 5}, /* 5 TRANSPOSE (2x3) */
        {3, 0, 4, 1, 5, 2}, /* 6 ROTATE_270 */
        {5, 2, 4, 1, 3, 0}, /* 7 TRANSVERSE */
        {2, 5, 1, 4, 0, 3}, /* 8 ROTATE_90 */
    };
    for (int o = 1; o <= 8; o++) {
        image_rgb img = {3, 2, malloc(18)};
        for (int i = 0; i < 18; i++) img.pixels[i] = (uint8_t)(i / 3 * 10);
        CHECK_EQ_INT(exif_apply_orientation(&img, o), IMAGE_OK);
        int swap = o >= 5;
        CHECK(img.width == (swap ? 2 : 3) && img.height == (swap ? 3 : 2));
        int same = 1;
        for (int i = 0; i < 6; i++) same &= img.pixels[3 * i] == want[o][i] * 10 && img.pixels[3 * i + 2] == want[o][i] * 10;
        CHECK_MSG(same, "orientation %d moved pixels differently from PIL", o);
        image_rgb_free(&img);
    }
}

int main(void) {
    test_webp();
    test_tiff();
    test_heif();
    test_unsupported_message();
    test_exif();
    return check_summary();
}
