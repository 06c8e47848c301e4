/* test_jpeg_window: decoding only part of a JPEG (image_decode_window, the
 * path pipeline_prepare takes) must give exactly the pixels a whole decode
 * gives, for every chroma subsampling, progressive and restart-marker files,
 * gray and Adobe CMYK, windows touching each edge, and the windows the
 * preprocessing asks for; the tensors must then equal those of the whole
 * image bit for bit. Data cut short below the window must still be refused.
 * The JPEGs are written here with libjpeg's own encoder. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "check.h"
#include "image.h"
#include "pipeline.h"
#include "preprocess.h"

typedef struct {
    const char *name;
    int h_samp, v_samp; /* luma sampling factors (chroma 1x1) */
    int progressive;
    int restart_rows;
    int gray, cmyk;
} jpeg_kind;

static const jpeg_kind KINDS[] = {
    {"4:4:4", 1, 1, 0, 0, 0, 0},       {"4:2:2", 2, 1, 0, 0, 0, 0},  {"4:2:0", 2, 2, 0, 0, 0, 0},
    {"4:4:0", 1, 2, 0, 0, 0, 0},       {"4:1:1", 4, 1, 0, 0, 0, 0},  {"4:2:0 progressive", 2, 2, 1, 0, 0, 0},
    {"4:2:0 restarts", 2, 2, 0, 1, 0, 0}, {"gray", 1, 1, 0, 0, 1, 0}, {"gray progressive", 1, 1, 1, 0, 1, 0},
    {"cmyk", 1, 1, 0, 0, 0, 1},
};

static uint8_t *make_pixels(int w, int h, int channels, unsigned seed) {
    uint8_t *px = malloc((size_t)w * (size_t)h * (size_t)channels);
    if (!px) return NULL;
    uint32_t state = seed * 2654435761u + 1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++) {
                state = state * 1664525u + 1013904223u;
                /* smooth colour ramps (chroma upsampling matters) plus noise */
                int v = (x * (3 + c) + y * (5 - c) + (x * y >> 6)) % 256 + (int)(state >> 28) - 8;
                px[((size_t)y * w + x) * channels + c] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
    return px;
}

static int encode(const jpeg_kind *k, int w, int h, uint8_t **out, unsigned long *out_len) {
    int channels = k->gray ? 1 : k->cmyk ? 4 : 3;
    uint8_t *px = make_pixels(w, h, channels, (unsigned)(w * 31 + h));
    if (!px) return -1;
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr jerr;
    cinfo.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&cinfo);
    *out = NULL;
    *out_len = 0;
    jpeg_mem_dest(&cinfo, out, out_len);
    cinfo.image_width = (JDIMENSION)w;
    cinfo.image_height = (JDIMENSION)h;
    cinfo.input_components = channels;
    cinfo.in_color_space = k->gray ? JCS_GRAYSCALE : k->cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    if (k->cmyk) jpeg_set_colorspace(&cinfo, JCS_YCCK);
    jpeg_set_quality(&cinfo, 88, TRUE);
    if (!k->gray && !k->cmyk) {
        cinfo.comp_info[0].h_samp_factor = k->h_samp;
        cinfo.comp_info[0].v_samp_factor = k->v_samp;
        for (int c = 1; c < 3; c++) cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
    }
    if (k->progressive) jpeg_simple_progression(&cinfo);
    if (k->restart_rows) cinfo.restart_in_rows = k->restart_rows;
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = px + (size_t)cinfo.next_scanline * (size_t)w * (size_t)channels;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    free(px);
    return 0;
}

/* Every pixel of need in win equals the whole decode; returns mismatches. */
static long compare_window(const image_window *win, const image_rgb *whole, const image_rect *need) {
    if (win->x > need->x || win->y > need->y || win->x + win->raster.width < need->x + need->width ||
        win->y + win->raster.height < need->y + need->height)
        return -1;
    long bad = 0;
    for (int y = need->y; y < need->y + need->height; y++) {
        const uint8_t *a = win->raster.pixels + ((size_t)(y - win->y) * win->raster.width + (size_t)(need->x - win->x)) * 3;
        const uint8_t *b = whole->pixels + ((size_t)y * whole->width + (size_t)need->x) * 3;
        for (int i = 0; i < need->width * 3; i++) bad += a[i] != b[i];
    }
    return bad;
}

static void test_windows_match_whole_decode(void) {
    static const int sizes[][2] = {{301, 227}, {640, 480}, {97, 400}, {1100, 825}};
    char err[256];
    for (size_t k = 0; k < sizeof(KINDS) / sizeof(KINDS[0]); k++) {
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            int w = sizes[s][0], h = sizes[s][1];
            uint8_t *jpg;
            unsigned long len;
            if (!CHECK(encode(&KINDS[k], w, h, &jpg, &len) == 0)) continue;
            image_rgb whole;
            if (!CHECK_MSG(image_decode_rgb(jpg, len, NULL, &whole, err, sizeof(err)) == IMAGE_OK, "%s %dx%d: %s",
                           KINDS[k].name, w, h, err)) {
                free(jpg);
                continue;
            }
            image_rect needs[] = {
                {w / 4, h / 4, w / 2, h / 2},  {0, 0, 1, 1},          {w - 1, h - 1, 1, 1},
                {0, h / 3, w, 17},             {w / 3, 0, 19, h},     {w - 40, h - 33, 40, 33},
                {17, 9, w - 34, h - 18},       {w / 2 + 5, 1, 3, h - 2}, {0, 0, w, h},
            };
            for (size_t n = 0; n < sizeof(needs) / sizeof(needs[0]); n++) {
                image_window win;
                image_status st = image_decode_window(jpg, len, NULL, &needs[n], &win, err, sizeof(err));
                if (!CHECK_MSG(st == IMAGE_OK, "%s %dx%d window %zu: %s", KINDS[k].name, w, h, n, err)) continue;
                CHECK(win.full_width == w && win.full_height == h);
                long bad = compare_window(&win, &whole, &needs[n]);
                CHECK_MSG(bad == 0, "%s %dx%d window %d,%d %dx%d: %ld bytes differ from the whole decode%s",
                          KINDS[k].name, w, h, needs[n].x, needs[n].y, needs[n].width, needs[n].height, bad,
                          bad < 0 ? " (window not covered)" : "");
                image_rgb_free(&win.raster);
            }
            image_rgb_free(&whole);
            free(jpg);
        }
    }
}

/* pipeline_prepare (window decode) == preprocess_run on the whole decode. */
static void test_tensors_match_whole_decode(void) {
    static const int configs[][3] = {{255, 224, 224}, {64, 56, 56}, {300, 320, 200}, {32, 32, 32}};
    static const int sizes[][2] = {{1100, 825}, {333, 517}, {2000, 40}, {50, 60}};
    char err[256];
    for (size_t c = 0; c < sizeof(configs) / sizeof(configs[0]); c++) {
        preprocess_config cfg;
        preprocess_config_default(&cfg);
        cfg.resize_short = configs[c][0];
        cfg.crop_width = configs[c][1];
        cfg.crop_height = configs[c][2];
        preprocess *pp;
        if (!CHECK(preprocess_create(&cfg, &pp, err, sizeof(err)) == 0)) continue;
        size_t n = preprocess_tensor_len(pp);
        float *a = malloc(n * sizeof(float)), *b = malloc(n * sizeof(float));
        for (size_t k = 0; a && b && k < sizeof(KINDS) / sizeof(KINDS[0]); k += 2) {
            for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
                uint8_t *jpg;
                unsigned long len;
                if (!CHECK(encode(&KINDS[k], sizes[s][0], sizes[s][1], &jpg, &len) == 0)) continue;
                image_rgb whole;
                CHECK(pipeline_prepare(pp, NULL, jpg, len, a, err, sizeof(err)) == IMAGE_OK);
                if (CHECK(image_decode_rgb(jpg, len, NULL, &whole, err, sizeof(err)) == IMAGE_OK)) {
                    CHECK(preprocess_run(pp, &whole, b, err, sizeof(err)) == 0);
                    CHECK_MSG(memcmp(a, b, n * sizeof(float)) == 0, "%s %dx%d, resize %d crop %dx%d: tensors differ",
                              KINDS[k].name, sizes[s][0], sizes[s][1], cfg.resize_short, cfg.crop_width,
                              cfg.crop_height);
                    image_rgb_free(&whole);
                }
                free(jpg);
            }
        }
        free(a);
        free(b);
        preprocess_free(pp);
    }
}

/* The window is the top of the image; the file is cut in the rows below it.
 * PIL refuses such a file, so must the window decode. */
static void test_truncated_below_window_is_refused(void) {
    char err[256];
    for (size_t k = 0; k < sizeof(KINDS) / sizeof(KINDS[0]); k++) {
        uint8_t *jpg;
        unsigned long len;
        if (!CHECK(encode(&KINDS[k], 640, 480, &jpg, &len) == 0)) continue;
        image_rect top = {100, 0, 200, 40};
        image_window win;
        for (int pct = 55; pct <= 95; pct += 20) {
            size_t cut = len * (size_t)pct / 100;
            image_status st = image_decode_window(jpg, cut, NULL, &top, &win, err, sizeof(err));
            CHECK_MSG(st == IMAGE_ERR_CORRUPT, "%s cut at %d%%: status %d", KINDS[k].name, pct, (int)st);
            CHECK_NULL(win.raster.pixels);
        }
        /* the same window of the intact file decodes */
        CHECK(image_decode_window(jpg, len, NULL, &top, &win, err, sizeof(err)) == IMAGE_OK);
        image_rgb_free(&win.raster);
        free(jpg);
    }
}

int main(void) {
    test_windows_match_whole_decode();
    test_tensors_match_whole_decode();
    test_truncated_below_window_is_refused();
    return check_summary();
}
