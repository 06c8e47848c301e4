/* test_decode_bmp_pnm: the BMP and PNM decoders (src/decode_bmp.c,
 * src/decode_pnm.c) against Pillow 9.4. tests/bmp_pnm_cases.py writes every
 * variant with Pillow's decode as the expected RGB (or the status inferd
 * must return when Pillow refuses the file), and for a few files Pillow's
 * verdict on every truncated prefix. Each case is decoded twice: by the
 * decoder directly and through image.c's dispatcher (sniffing, the limit,
 * the table). Header bytes are also overwritten one at a time: any status
 * is fine there, a crash or an ASan report is not.
 *
 *     test_decode_bmp_pnm CASES_DIR     (made by tests/bmp_pnm_cases.py) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "image.h"
#include "image_decoder.h"

static const image_limits test_limits = {.max_pixels = 64u << 20};

static uint8_t *read_file(const char *dir, const char *name, size_t *len) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
    if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *len = (size_t)size;
    return data;
}

static const image_decoder *decoder_for(const char *name) {
    const char *dot = strrchr(name, '.');
    return dot && strcmp(dot, ".bmp") == 0 ? &image_decoder_bmp : &image_decoder_pnm;
}

static image_status expected_status(const char *word) {
    if (strcmp(word, "ok") == 0) return IMAGE_OK;
    if (strcmp(word, "unsupported") == 0) return IMAGE_ERR_UNSUPPORTED;
    if (strcmp(word, "too_large") == 0) return IMAGE_ERR_TOO_LARGE;
    return IMAGE_ERR_CORRUPT;
}

/* Index of the first differing pixel, or -1. */
static long first_difference(const uint8_t *a, const uint8_t *b, size_t pixels) {
    for (size_t i = 0; i < pixels; i++)
        if (memcmp(a + 3 * i, b + 3 * i, 3) != 0) return (long)i;
    return -1;
}

static void check_ok_case(const char *dir, const char *name, const uint8_t *data, size_t len, int w, int h) {
    char rgb_name[512];
    snprintf(rgb_name, sizeof(rgb_name), "%.*s.rgb", (int)(strrchr(name, '.') - name), name);
    size_t expected_len;
    uint8_t *expected = read_file(dir, rgb_name, &expected_len);
    if (!CHECK_MSG(expected && expected_len == (size_t)w * (size_t)h * 3, "%s: expected pixels %s", name, rgb_name)) {
        free(expected);
        return;
    }
    const image_decoder *decoder = decoder_for(name);
    char err[256] = "";
    image_info info = {0, 0, 1};
    CHECK_MSG(decoder->sniff(data, len), "%s: not sniffed as %s", name, decoder->name);
    image_status status = decoder->info(data, len, &info, err, sizeof(err));
    CHECK_MSG(status == IMAGE_OK && info.width == w && info.height == h, "%s: info %d %dx%d (%s), Pillow %dx%d",
              name, (int)status, info.width, info.height, err, w, h);

    image_window win;
    memset(&win, 0, sizeof(win));
    status = decoder->decode(data, len, NULL, &win, err, sizeof(err));
    if (CHECK_MSG(status == IMAGE_OK, "%s: decode failed (%d: %s)", name, (int)status, err) &&
        CHECK_MSG(win.raster.width == w && win.raster.height == h && win.full_width == w && win.full_height == h,
                  "%s: decoded %dx%d, Pillow %dx%d", name, win.raster.width, win.raster.height, w, h)) {
        long at = first_difference(win.raster.pixels, expected, (size_t)w * (size_t)h);
        if (!CHECK_MSG(at < 0, "%s: pixel %ld (x %ld, y %ld) differs from Pillow", name, at, at % w, at / w)) {
            const uint8_t *c = win.raster.pixels + 3 * at, *p = expected + 3 * at;
            fprintf(stderr, "    C %d,%d,%d  Pillow %d,%d,%d\n", c[0], c[1], c[2], p[0], p[1], p[2]);
        }
    }
    image_rgb_free(&win.raster);

    image_rgb whole = {0, 0, NULL};
    status = image_decode_rgb(data, len, &test_limits, &whole, err, sizeof(err));
    if (CHECK_MSG(status == IMAGE_OK && whole.width == w && whole.height == h, "%s: dispatcher %d (%s)", name,
                  (int)status, err))
        CHECK_MSG(first_difference(whole.pixels, expected, (size_t)w * (size_t)h) < 0,
                  "%s: dispatcher pixels differ from Pillow", name);
    image_rgb_free(&whole);
    free(expected);
}

static void check_refused_case(const char *name, const uint8_t *data, size_t len, image_status want) {
    char err[256] = "";
    image_rgb out = {0, 0, NULL};
    image_status status = image_decode_rgb(data, len, &test_limits, &out, err, sizeof(err));
    CHECK_MSG(status == want, "%s: status %d (%s), expected %d", name, (int)status, err, (int)want);
    CHECK_MSG(out.pixels == NULL, "%s: pixels left after a refusal", name);
    CHECK_MSG(err[0] != '\0', "%s: refused without a message", name);
    image_rgb_free(&out);
    /* Directly, without the dispatcher's pixel limit: too-large headers must
     * still be refused by the decoder's own checks, never by an allocation. */
    const image_decoder *decoder = decoder_for(name);
    if (want == IMAGE_ERR_TOO_LARGE) {
        image_info info = {0, 0, 1};
        status = decoder->info(data, len, &info, err, sizeof(err));
        CHECK_MSG(status == IMAGE_OK || status == IMAGE_ERR_TOO_LARGE, "%s: info %d", name, (int)status);
        return;
    }
    if (decoder->sniff(data, len)) {
        image_window win;
        memset(&win, 0, sizeof(win));
        status = decoder->decode(data, len, NULL, &win, err, sizeof(err));
        CHECK_MSG(status != IMAGE_OK, "%s: the decoder accepts what Pillow refuses", name);
        if (status == IMAGE_OK) image_rgb_free(&win.raster);
    }
}

/* Every prefix of the file, in a buffer of exactly that size so that ASan
 * sees any read past it; accepted iff Pillow accepts the same prefix. */
static void check_truncations(const char *name, const uint8_t *data, size_t len, const char *verdicts) {
    if (!CHECK_MSG(strlen(verdicts) == len, "%s: %zu verdicts for %zu bytes", name, strlen(verdicts), len)) return;
    int mismatches = 0;
    for (size_t n = 0; n < len; n++) {
        uint8_t *prefix = malloc(n ? n : 1);
        memcpy(prefix, data, n);
        char err[256];
        image_rgb out = {0, 0, NULL};
        image_status status = image_decode_rgb(prefix, n, &test_limits, &out, err, sizeof(err));
        int want_ok = verdicts[n] == '1';
        if ((status == IMAGE_OK) != want_ok && mismatches++ < 3)
            fprintf(stderr, "    %s cut to %zu bytes: C %d (%s), Pillow %s\n", name, n, (int)status,
                    status == IMAGE_OK ? "ok" : err, want_ok ? "opens it" : "refuses it");
        image_rgb_free(&out);
        free(prefix);
    }
    CHECK_MSG(mismatches == 0, "%s: %d truncated prefixes judged unlike Pillow", name, mismatches);
}

/* Each of the first bytes set to a few extreme values: header fields out of
 * range in every way. Only crashes and sanitizer reports count. */
static void check_header_mutations(const char *name, const uint8_t *data, size_t len) {
    static const uint8_t values[] = {0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF, '0', '9', ' ', '#'};
    size_t span = len < 80 ? len : 80;
    uint8_t *copy = malloc(len);
    int done = 0;
    for (size_t i = 0; i < span; i++) {
        for (size_t v = 0; v < sizeof(values); v++) {
            memcpy(copy, data, len);
            copy[i] = values[v];
            char err[256];
            image_rgb out = {0, 0, NULL};
            if (image_decode_rgb(copy, len, &test_limits, &out, err, sizeof(err)) == IMAGE_OK)
                CHECK_MSG(out.pixels != NULL, "%s: OK without pixels", name);
            image_rgb_free(&out);
            done++;
        }
    }
    free(copy);
    CHECK_MSG(done > 0, "%s: no mutations ran", name);
}

static void check_sniffing(void) {
    CHECK(image_decoder_pnm.sniff((const uint8_t *)"P6\n", 3));
    CHECK(image_decoder_pnm.sniff((const uint8_t *)"P1 ", 3));
    CHECK(image_decoder_pnm.sniff((const uint8_t *)"P5", 2));
    CHECK(!image_decoder_pnm.sniff((const uint8_t *)"P7\n", 3));
    CHECK(!image_decoder_pnm.sniff((const uint8_t *)"P6#", 3));
    CHECK(!image_decoder_pnm.sniff((const uint8_t *)"P", 1));
    CHECK(image_decoder_bmp.sniff((const uint8_t *)"BM", 2));
    CHECK(!image_decoder_bmp.sniff((const uint8_t *)"BA", 2));
    CHECK_EQ_INT(image_detect_format((const uint8_t *)"P3 1 1 255 0 0 0", 16), IMAGE_FORMAT_PNM);
    CHECK_EQ_INT(image_detect_format((const uint8_t *)"BM", 2), IMAGE_FORMAT_BMP);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CASES_DIR (written by tests/bmp_pnm_cases.py)\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    check_sniffing();
    size_t list_len;
    char *list = (char *)read_file(dir, "cases.txt", &list_len);
    if (!CHECK_MSG(list != NULL, "%s/cases.txt missing", dir)) return check_summary();
    list = realloc(list, list_len + 1);
    list[list_len] = '\0';
    int ok_cases = 0, refused_cases = 0, truncated_files = 0;
    for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n")) {
        char name[256], word[32];
        int w, h;
        if (strncmp(line, "truncate ", 9) == 0) {
            char *verdicts = strchr(line + 9, ' ');
            if (!CHECK_MSG(verdicts != NULL, "bad line %s", line)) continue;
            *verdicts++ = '\0';
            size_t len;
            uint8_t *data = read_file(dir, line + 9, &len);
            if (CHECK_MSG(data != NULL, "%s missing", line + 9)) {
                check_truncations(line + 9, data, len, verdicts);
                check_header_mutations(line + 9, data, len);
                truncated_files++;
            }
            free(data);
            continue;
        }
        if (!CHECK_MSG(sscanf(line, "%255s %d %d %31s", name, &w, &h, word) == 4, "bad line %s", line)) continue;
        size_t len;
        uint8_t *data = read_file(dir, name, &len);
        if (!CHECK_MSG(data != NULL, "%s missing", name)) continue;
        image_status want = expected_status(word);
        if (want == IMAGE_OK) {
            check_ok_case(dir, name, data, len, w, h);
            ok_cases++;
        } else {
            check_refused_case(name, data, len, want);
            refused_cases++;
        }
        free(data);
    }
    free(list);
    printf("%d files Pillow opens, %d it refuses, %d truncated at every length\n", ok_cases, refused_cases,
           truncated_files);
    CHECK(ok_cases > 50 && refused_cases > 20 && truncated_files > 5);
    return check_summary();
}
