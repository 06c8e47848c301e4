/* test_preprocess: preprocess.h — torchvision's Resize(int) size rule and
 * CenterCrop offsets (Python's round-half-to-even, zero padding when the crop
 * is larger), the float32 normalisation, Pillow's bilinear resampler against
 * values Pillow 9.4 produced, and the crop-only shortcut of preprocess_run
 * against a full resize followed by a manual crop, pad and normalise, bit for
 * bit. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "preprocess.h"

static uint32_t rng_state = 0x9E3779B9u;
static uint8_t rng_byte(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (uint8_t)(rng_state >> 24);
}

/* ToTensor + Normalize for one byte, in float32 as torch does it:
 * (v / 255) is one float op, then (x - mean) / std. volatile keeps each
 * intermediate a float. */
static float normalise(uint8_t v, float mean, float std) {
    volatile float scaled = (float)v / 255.0f;
    volatile float centred = scaled - mean;
    volatile float result = centred / std;
    return result;
}

static int alloc_image(image_rgb *img, int w, int h) {
    img->width = w;
    img->height = h;
    img->pixels = malloc((size_t)w * (size_t)h * 3);
    return img->pixels != NULL;
}

static void fill_random(image_rgb *img) {
    for (size_t i = 0; i < (size_t)img->width * img->height * 3; i++) img->pixels[i] = rng_byte();
}

/* The 7x5 pattern the Pillow goldens below were made from. */
static void fill_pattern(image_rgb *img) {
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            for (int c = 0; c < 3; c++)
                img->pixels[((size_t)y * img->width + x) * 3 + c] = (uint8_t)((x * 37 + y * 91 + c * 53 + (x * y) % 7) & 0xFF);
}

static void test_resized_size(void) {
    static const int cases[][5] = {
        /* w, h, target, want_w, want_h */
        {1, 1, 255, 255, 255},          {2000, 20, 255, 25500, 255}, {20, 2000, 255, 255, 25500},
        {1100, 825, 255, 340, 255},     {255, 300, 255, 255, 300},   {300, 255, 255, 300, 255},
        {224, 224, 255, 255, 255},      {256, 256, 255, 255, 255},   {300, 200, 255, 382, 255},
        {640, 480, 255, 340, 255},      {480, 640, 255, 255, 340},   {301, 225, 255, 341, 255},
        {2, 3, 255, 255, 382},          {7, 5, 4, 5, 4},             {400, 300, 200, 266, 200},
        {4000, 3000, 255, 340, 255},    {3, 1, 255, 765, 255},       {1000, 999, 255, 255, 255},
        {999, 1000, 255, 255, 255},     {1001, 1000, 255, 255, 255}, {1000, 1000, 200, 200, 200},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int w = -1, h = -1;
        preprocess_resized_size(cases[i][0], cases[i][1], cases[i][2], &w, &h);
        CHECK_MSG(w == cases[i][3] && h == cases[i][4], "resized_size(%d, %d, %d) = %dx%d, want %dx%d", cases[i][0],
                  cases[i][1], cases[i][2], w, h, cases[i][3], cases[i][4]);
    }
    /* 1000x1003 with 255: 255*1003/1000 = 255.765 -> 255, the long side truncated. */
    int w, h;
    preprocess_resized_size(1000, 1003, 255, &w, &h);
    CHECK(w == 255 && h == 255);
    preprocess_resized_size(1000, 1004, 255, &w, &h);
    CHECK(w == 255 && h == 256); /* 256.02 */
}

static void test_crop_offset(void) {
    static const int cases[][3] = {
        /* size, crop, want: int(round((size - crop) / 2.0)), Python rounding */
        {255, 224, 16}, /* 31 -> 15.5 -> 16 */
        {257, 224, 16}, /* 33 -> 16.5 -> 16 */
        {225, 224, 0},  /* 1 -> 0.5 -> 0 */
        {227, 224, 2},  /* 3 -> 1.5 -> 2 */
        {224, 224, 0},  /* 0 */
        {226, 224, 1},  /* 2 -> 1 */
        {229, 224, 2},  /* 5 -> 2.5 -> 2 */
        {231, 224, 4},  /* 7 -> 3.5 -> 4 */
        {340, 224, 58}, /* 116 */
        {341, 224, 58}, /* 117 -> 58.5 -> 58 */
        {343, 224, 60}, /* 119 -> 59.5 -> 60 */
        {25500, 224, 12638},
        /* crop larger: -(crop - size) // 2, the left/top padding */
        {200, 224, -12},
        {201, 224, -11},
        {223, 224, 0}, /* (1)//2 = 0: padding goes right/bottom */
        {222, 224, -1},
        {1, 224, -111},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = preprocess_crop_offset(cases[i][0], cases[i][1]);
        CHECK_MSG(got == cases[i][2], "crop_offset(%d, %d) = %d, want %d", cases[i][0], cases[i][1], got,
                  cases[i][2]);
    }
    /* Against rint() (round-half-to-even in the default rounding mode). */
    int bad = 0;
    for (int size = 224; size < 2000; size++)
        if (preprocess_crop_offset(size, 224) != (int)rint((size - 224) / 2.0)) bad++;
    CHECK_EQ_INT(bad, 0);
}

static void test_create(void) {
    char err[256];
    preprocess_config cfg;
    preprocess_config_default(&cfg);
    CHECK_EQ_INT(cfg.resize_short, 255);
    CHECK_EQ_INT(cfg.crop_width, 224);
    CHECK_EQ_INT(cfg.crop_height, 224);
    CHECK_EQ_FLOAT(cfg.mean[0], 0.485f);
    CHECK_EQ_FLOAT(cfg.std[2], 0.225f);
    preprocess *pp = NULL;
    if (CHECK_EQ_INT(preprocess_create(&cfg, &pp, err, sizeof(err)), 0)) {
        CHECK_EQ_INT(preprocess_tensor_len(pp), 3 * 224 * 224);
        preprocess_free(pp);
    }
    cfg.crop_width = 200;
    cfg.crop_height = 100;
    if (CHECK_EQ_INT(preprocess_create(&cfg, &pp, err, sizeof(err)), 0)) {
        CHECK_EQ_INT(preprocess_tensor_len(pp), 3 * 200 * 100);
        preprocess_free(pp);
    }
    preprocess_free(NULL);

    /* Refused configurations. */
    preprocess_config bad[7];
    for (int i = 0; i < 7; i++) preprocess_config_default(&bad[i]);
    bad[0].resize_short = 0; /* and no [h, w] either */
    bad[1].crop_width = 0;
    bad[2].crop_height = -1;
    bad[3].std[1] = 0.0f;
    bad[4].std[2] = -0.5f;
    bad[5].mean[0] = NAN;
    bad[6].std[0] = NAN;
    for (int i = 0; i < 7; i++) {
        pp = (preprocess *)&err;
        err[0] = '\0';
        CHECK_MSG(preprocess_create(&bad[i], &pp, err, sizeof(err)) == -1, "bad config %d accepted", i);
        CHECK_NULL(pp);
        CHECK(err[0] != '\0');
    }
}

/* A uniform image of byte v gives normalise(v) everywhere, per channel. */
static void test_normalisation(void) {
    char err[256];
    preprocess_config cfg;
    preprocess_config_default(&cfg);
    preprocess *pp = NULL;
    if (!CHECK_EQ_INT(preprocess_create(&cfg, &pp, err, sizeof(err)), 0)) return;
    size_t n = preprocess_tensor_len(pp), plane = n / 3;
    float *out = malloc(n * sizeof(float));
    image_rgb img;
    if (!CHECK_NOT_NULL(out) || !CHECK(alloc_image(&img, 1, 1))) return;
    int wrong_values = 0;
    for (int v = 0; v < 256; v++) {
        img.pixels[0] = img.pixels[1] = img.pixels[2] = (uint8_t)v;
        if (preprocess_run(pp, &img, out, err, sizeof(err)) != 0) {
            wrong_values++;
            continue;
        }
        for (int c = 0; c < 3; c++) {
            float want = normalise((uint8_t)v, cfg.mean[c], cfg.std[c]);
            for (size_t i = 0; i < plane; i++)
                if (out[c * plane + i] != want) {
                    if (!wrong_values) fprintf(stderr, "byte %d channel %d: %.9g != %.9g\n", v, c, out[c * plane + i], want);
                    wrong_values++;
                    break;
                }
        }
    }
    CHECK_EQ_INT(wrong_values, 0);
    /* Spot values: byte 0 and 255 on channel 0. */
    img.pixels[0] = img.pixels[1] = img.pixels[2] = 0;
    preprocess_run(pp, &img, out, err, sizeof(err));
    CHECK_NEAR(out[0], -0.485 / 0.229, 1e-6);
    img.pixels[0] = img.pixels[1] = img.pixels[2] = 255;
    preprocess_run(pp, &img, out, err, sizeof(err));
    CHECK_NEAR(out[0], (1 - 0.485) / 0.229, 1e-6);
    CHECK_NEAR(out[2 * plane], (1 - 0.406) / 0.225, 1e-6);

    /* Per-channel: different bytes in R, G and B stay in their own planes. */
    image_rgb big;
    if (CHECK(alloc_image(&big, 300, 280))) {
        for (size_t i = 0; i < 300 * 280; i++) {
            big.pixels[3 * i] = 10;
            big.pixels[3 * i + 1] = 128;
            big.pixels[3 * i + 2] = 250;
        }
        CHECK_EQ_INT(preprocess_run(pp, &big, out, err, sizeof(err)), 0);
        int ok = 1;
        for (size_t i = 0; i < plane; i++)
            ok &= out[i] == normalise(10, cfg.mean[0], cfg.std[0]) &&
                  out[plane + i] == normalise(128, cfg.mean[1], cfg.std[1]) &&
                  out[2 * plane + i] == normalise(250, cfg.mean[2], cfg.std[2]);
        CHECK_MSG(ok, "uniform 300x280 image with distinct channels not normalised per channel");
        free(big.pixels);
    }
    preprocess_free(pp);

    /* A custom mean/std. */
    cfg.mean[0] = cfg.mean[1] = cfg.mean[2] = 0.5f;
    cfg.std[0] = cfg.std[1] = cfg.std[2] = 0.5f;
    if (CHECK_EQ_INT(preprocess_create(&cfg, &pp, err, sizeof(err)), 0)) {
        img.pixels[0] = 0, img.pixels[1] = 255, img.pixels[2] = 51;
        CHECK_EQ_INT(preprocess_run(pp, &img, out, err, sizeof(err)), 0);
        CHECK_EQ_FLOAT(out[0], -1.0f);
        CHECK_EQ_FLOAT(out[plane], 1.0f);
        CHECK_EQ_FLOAT(out[2 * plane], normalise(51, 0.5f, 0.5f));
        preprocess_free(pp);
    }
    free(img.pixels);
    free(out);
}

/* Pillow 9.4's Image.resize(size, BILINEAR) of the 7x5 pattern. */
static void test_resampler_golden(void) {
    static const uint8_t g3x2[] = {100, 128, 137, 132, 113, 134, 132, 124, 119,
                                   108, 136, 148, 122, 125, 131, 132, 100, 110};
    static const uint8_t g11x9[] = {
        0,   53,  106, 17,  70,  123, 40,  93,  146, 64,  117, 170, 87,  140, 193, 111, 164, 217, 135, 188, 241,
        158, 211, 194, 182, 235, 55,  205, 119, 55,  222, 19,  72,  30,  83,  136, 47,  100, 153, 71,  124, 169,
        95,  148, 139, 118, 140, 139, 142, 110, 163, 166, 134, 187, 167, 157, 164, 136, 182, 79,  152, 112, 87,
        169, 51,  104, 81,  134, 187, 98,  151, 204, 122, 175, 207, 147, 200, 86,  171, 141, 49,  195, 20,  73,
        219, 44,  97,  181, 68,  113, 60,  93,  120, 64,  101, 141, 81,  105, 158, 131, 184, 124, 149, 150, 141,
        163, 113, 153, 115, 137, 86,  109, 110, 72,  133, 44,  97,  155, 66,  119, 140, 90,  143, 74,  114, 167,
        86,  139, 130, 103, 156, 95,  182, 235, 32,  200, 136, 50,  201, 22,  75,  63,  46,  99,  18,  71,  124,
        43,  96,  149, 63,  116, 169, 86,  139, 192, 110, 163, 216, 135, 188, 102, 153, 206, 3,   90,  143, 83,
        108, 109, 101, 123, 73,  126, 76,  98,  151, 69,  122, 175, 91,  144, 197, 114, 167, 130, 138, 152, 101,
        160, 84,  124, 185, 96,  87,  203, 114, 53,  27,  80,  133, 45,  98,  151, 71,  124, 175, 96,  149, 181,
        119, 162, 196, 140, 165, 218, 147, 190, 99,  161, 151, 39,  182, 28,  61,  207, 32,  85,  225, 50,  103,
        78,  131, 184, 96,  149, 202, 122, 175, 212, 145, 198, 127, 168, 159, 104, 193, 75,  128, 107, 98,  97,
        68,  98,  89,  93,  68,  113, 116, 84,  137, 132, 100, 153, 108, 161, 214, 127, 180, 233, 152, 205, 235,
        174, 227, 94,  198, 158, 48,  224, 21,  74,  83,  43,  96,  13,  66,  119, 39,  92,  145, 62,  115, 168,
        77,  130, 183};
    static const uint8_t g7x3[] = {39,  92,  145, 76,  129, 182, 114, 167, 110, 151, 95,  148, 189, 132, 185, 116,
                                   169, 76,  154, 61,  114, 125, 178, 89,  164, 75,  128, 61,  114, 110, 98,  94,
                                   147, 133, 130, 126, 114, 110, 163, 153, 149, 60,  69,  122, 175, 110, 163, 216,
                                   146, 199, 106, 184, 90,  143, 74,  127, 70,  112, 55,  108, 148, 91,  144};
    static const uint8_t g4x5[] = {19,  72,  125, 77,  130, 183, 145, 198, 200, 203, 122, 65,  111, 164, 205,
                                   170, 151, 71,  189, 37,  90,  55,  96,  149, 190, 134, 52,  58,  60,  113,
                                   74,  127, 180, 133, 186, 104, 38,  91,  144, 98,  151, 204, 165, 167, 87,
                                   222, 32,  72,  129, 182, 223, 188, 169, 89,  72,  54,  107, 59,  112, 165};
    static const struct {
        int w, h;
        const uint8_t *want;
        size_t len;
    } cases[] = {{3, 2, g3x2, sizeof(g3x2)}, {11, 9, g11x9, sizeof(g11x9)}, {7, 3, g7x3, sizeof(g7x3)},
                 {4, 5, g4x5, sizeof(g4x5)}};
    char err[256];
    image_rgb src;
    if (!CHECK(alloc_image(&src, 7, 5))) return;
    fill_pattern(&src);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        image_rgb out;
        if (!CHECK_EQ_INT(preprocess_resize_rgb(&src, cases[i].w, cases[i].h, PREPROCESS_BILINEAR, &out, err, sizeof(err)), 0)) continue;
        CHECK_EQ_INT(out.width, cases[i].w);
        CHECK_EQ_INT(out.height, cases[i].h);
        CHECK_EQ_U64((size_t)out.width * out.height * 3, cases[i].len);
        size_t first = cases[i].len;
        for (size_t k = 0; k < cases[i].len; k++)
            if (out.pixels[k] != cases[i].want[k]) {
                first = k;
                break;
            }
        CHECK_MSG(first == cases[i].len, "7x5 -> %dx%d differs from Pillow at byte %zu: %u != %u", cases[i].w,
                  cases[i].h, first, first < cases[i].len ? out.pixels[first] : 0,
                  first < cases[i].len ? cases[i].want[first] : 0);
        free(out.pixels);
    }
    /* Hand-computed from Pillow's algorithm (and checked with Pillow):
     * [0, 255] -> 4 wide = [0, 64, 191, 255]. */
    image_rgb two;
    if (CHECK(alloc_image(&two, 2, 1))) {
        static const uint8_t px[6] = {0, 10, 20, 255, 250, 245};
        static const uint8_t want[12] = {0, 10, 20, 64, 70, 76, 191, 190, 189, 255, 250, 245};
        memcpy(two.pixels, px, 6);
        image_rgb out;
        if (CHECK_EQ_INT(preprocess_resize_rgb(&two, 4, 1, PREPROCESS_BILINEAR, &out, err, sizeof(err)), 0)) {
            CHECK(memcmp(out.pixels, want, 12) == 0);
            free(out.pixels);
        }
        free(two.pixels);
    }

    /* Resizing to the same size is the identity. */
    image_rgb rnd;
    if (CHECK(alloc_image(&rnd, 17, 13))) {
        fill_random(&rnd);
        image_rgb out;
        if (CHECK_EQ_INT(preprocess_resize_rgb(&rnd, 17, 13, PREPROCESS_BILINEAR, &out, err, sizeof(err)), 0)) {
            CHECK(out.width == 17 && out.height == 13 && memcmp(out.pixels, rnd.pixels, 17 * 13 * 3) == 0);
            free(out.pixels);
        }
        free(rnd.pixels);
    }
    /* Invalid sizes. */
    image_rgb out;
    CHECK_EQ_INT(preprocess_resize_rgb(&src, 0, 5, PREPROCESS_BILINEAR, &out, err, sizeof(err)), -1);
    CHECK_NULL(out.pixels);
    CHECK_EQ_INT(preprocess_resize_rgb(&src, 5, -1, PREPROCESS_BILINEAR, &out, err, sizeof(err)), -1);
    free(src.pixels);
}

static void fill_checker(image_rgb *img) {
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            for (int c = 0; c < 3; c++)
                img->pixels[((size_t)y * img->width + x) * 3 + c] = ((x / 2 + y / 3 + c) % 2) ? 255 : 0;
}

/* A hard step (255 right of the middle, green flipped in the lower half,
 * blue 3 instead of 0): bicubic overshoots on both sides of it, so the
 * resampler's clipping below 0 and above 255 is exercised. */
static void fill_step(image_rgb *img) {
    int w = img->width, h = img->height;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                img->pixels[((size_t)y * w + x) * 3 + c] =
                    (x >= w / 2) != (y >= h / 2 && c == 1) ? 255 : (c != 2 ? 0 : 3);
}

/* Pillow 9.4's Image.resize(size, BICUBIC), printed by
 * tests/make_bicubic_golden.py: up- and downscaling (support 2 widened up
 * to ~11 taps each side for 40 -> 7), one axis kept, and clipping. Runs on
 * whichever horizontal pass is active (AVX2 by default on x86 that has
 * it, INFERD_RESAMPLE_SIMD=ssse3 for SSSE3, INFERD_RESAMPLE_SCALAR=1 for
 * the portable one). */
static void test_bicubic_golden(void) {
    static const uint8_t b_step_12x6_30x13[] = {0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 2, 0, 0, 0, 0, 0, 0, 66, 66, 68, 189, 189, 190, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 2, 0, 0, 0, 0, 0, 0, 66, 66, 68, 189, 189, 190, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 2, 0, 0, 0, 0, 0, 0, 66, 66, 68, 189, 189, 190, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 2, 0, 0, 0, 0, 0, 0, 66, 65, 68, 189, 190, 190, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 3, 0, 0, 2, 0, 0, 0, 0, 0, 0, 66, 57, 68, 189, 198, 190, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 0, 5, 3, 0, 5, 3, 0, 5, 3, 0, 5, 3, 0, 5, 3, 0, 5, 3, 0, 5, 3, 0, 5, 3, 0, 5, 3, 0, 5, 3, 0, 5, 3, 0, 5, 2, 0, 5, 0, 0, 5, 0, 66, 69, 68, 189, 186, 190, 255, 250, 255, 255, 250, 255, 255, 250, 255, 255, 250, 255, 255, 250, 255, 255, 250, 255, 255, 250, 255, 255, 250, 255, 255, 250, 255, 255, 250, 255, 255, 250, 255, 255, 250, 255, 255, 250, 255, 255, 250, 255, 0, 128, 3, 0, 128, 3, 0, 128, 3, 0, 128, 3, 0, 128, 3, 0, 128, 3, 0, 128, 3, 0, 128, 3, 0, 128, 3, 0, 128, 3, 0, 128, 3, 0, 128, 2, 0, 128, 0, 0, 128, 0, 66, 128, 68, 189, 128, 190, 255, 128, 255, 255, 128, 255, 255, 128, 255, 255, 128, 255, 255, 128, 255, 255, 128, 255, 255, 128, 255, 255, 128, 255, 255, 128, 255, 255, 128, 255, 255, 128, 255, 255, 128, 255, 255, 128, 255, 255, 128, 255, 0, 250, 3, 0, 250, 3, 0, 250, 3, 0, 250, 3, 0, 250, 3, 0, 250, 3, 0, 250, 3, 0, 250, 3, 0, 250, 3, 0, 250, 3, 0, 250, 3, 0, 250, 2, 0, 250, 0, 0, 250, 0, 66, 186, 68, 189, 69, 190, 255, 5, 255, 255, 5, 255, 255, 5, 255, 255, 5, 255, 255, 5, 255, 255, 5, 255, 255, 5, 255, 255, 5, 255, 255, 5, 255, 255, 5, 255, 255, 5, 255, 255, 5, 255, 255, 5, 255, 255, 5, 255, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 2, 0, 255, 0, 0, 255, 0, 66, 198, 68, 189, 57, 190, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 2, 0, 255, 0, 0, 255, 0, 66, 190, 68, 189, 65, 190, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 2, 0, 255, 0, 0, 255, 0, 66, 189, 68, 189, 66, 190, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 2, 0, 255, 0, 0, 255, 0, 66, 189, 68, 189, 66, 190, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 3, 0, 255, 2, 0, 255, 0, 0, 255, 0, 66, 189, 68, 189, 66, 190, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255, 255, 0, 255};
    static const uint8_t b_pattern_7x5_3x2[] = {95, 125, 134, 132, 114, 138, 136, 126, 119, 112, 139, 151, 119, 125, 127, 130, 97, 111};
    static const uint8_t b_pattern_7x5_11x9[] = {0, 43, 96, 6, 59, 110, 33, 85, 140, 56, 108, 179, 79, 139, 208, 103, 177, 230, 126, 202, 255, 155, 232, 214, 194, 255, 39, 223, 113, 36, 238, 0, 67, 21, 71, 134, 35, 92, 154, 63, 125, 173, 93, 154, 140, 119, 145, 139, 143, 116, 169, 173, 137, 203, 172, 169, 174, 139, 194, 65, 158, 106, 77, 178, 33, 108, 77, 129, 194, 93, 152, 224, 121, 186, 224, 154, 228, 72, 182, 152, 21, 205, 10, 63, 247, 24, 89, 197, 59, 107, 44, 84, 117, 45, 99, 149, 74, 106, 172, 142, 204, 124, 166, 161, 150, 180, 112, 160, 116, 149, 67, 104, 111, 42, 137, 27, 80, 171, 40, 110, 145, 74, 147, 53, 110, 186, 64, 150, 138, 89, 175, 99, 179, 250, 29, 210, 143, 46, 210, 12, 75, 52, 39, 99, 0, 71, 124, 43, 96, 149, 63, 116, 169, 85, 138, 198, 110, 163, 226, 139, 192, 95, 156, 209, 0, 84, 146, 66, 108, 102, 81, 123, 54, 114, 60, 79, 162, 45, 118, 202, 77, 162, 215, 111, 199, 129, 145, 171, 89, 176, 76, 124, 206, 87, 76, 224, 113, 39, 14, 66, 131, 30, 89, 149, 62, 126, 177, 95, 153, 188, 121, 166, 215, 141, 174, 227, 154, 218, 88, 169, 167, 11, 191, 11, 49, 219, 12, 84, 237, 43, 107, 74, 127, 189, 91, 149, 217, 122, 184, 226, 150, 220, 116, 184, 168, 87, 201, 69, 122, 100, 90, 91, 53, 97, 83, 87, 65, 113, 113, 83, 145, 128, 102, 164, 112, 165, 218, 130, 183, 252, 159, 213, 250, 180, 254, 73, 216, 166, 13, 232, 8, 61, 67, 16, 95, 0, 57, 128, 26, 100, 154, 52, 127, 179, 65, 139, 192};
    static const uint8_t b_pattern_7x5_4x5[] = {15, 68, 121, 77, 130, 189, 145, 208, 208, 207, 119, 55, 106, 169, 215, 176, 152, 63, 197, 27, 84, 45, 101, 154, 200, 136, 48, 51, 51, 113, 68, 127, 189, 137, 190, 102, 33, 86, 139, 98, 157, 215, 165, 175, 86, 227, 21, 67, 124, 187, 233, 198, 170, 81, 71, 43, 101, 54, 116, 169};
    static const uint8_t b_pattern_7x5_7x3[] = {40, 93, 146, 77, 130, 183, 115, 168, 107, 152, 91, 144, 190, 128, 189, 113, 174, 77, 150, 62, 115, 128, 181, 86, 167, 72, 125, 58, 111, 110, 95, 95, 148, 140, 130, 120, 114, 104, 166, 153, 153, 57, 68, 121, 174, 109, 162, 215, 145, 198, 109, 183, 94, 147, 70, 130, 69, 115, 54, 107, 151, 90, 143};
    static const uint8_t b_pattern_7x5_2x5[] = {52, 111, 166, 170, 164, 140, 153, 147, 130, 130, 69, 107, 116, 92, 92, 91, 147, 147, 72, 133, 172, 190, 108, 90, 156, 165, 148, 76, 85, 124};
    static const uint8_t b_checker_40x30_7x5[] = {125, 130, 125, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 130, 125, 130, 128, 127, 128, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 127, 128, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 128, 128, 128, 127, 127, 127, 127, 127, 127, 127, 127, 127, 127, 128, 127, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 128, 127, 128, 130, 125, 130, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 125, 130, 125};
    static const uint8_t b_checker_40x30_9x33[] = {110, 145, 110, 129, 126, 129, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 126, 129, 126, 145, 110, 145, 110, 145, 110, 129, 126, 129, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 126, 129, 126, 145, 110, 145, 108, 147, 108, 129, 126, 129, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 126, 129, 126, 147, 108, 147, 135, 120, 135, 127, 128, 127, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 128, 127, 128, 120, 135, 120, 147, 108, 147, 126, 129, 126, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 129, 126, 129, 108, 147, 108, 147, 108, 147, 126, 129, 126, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 129, 126, 129, 108, 147, 108, 131, 124, 131, 127, 128, 127, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 128, 127, 128, 124, 131, 124, 107, 148, 107, 129, 126, 129, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 126, 129, 126, 148, 107, 148, 109, 146, 109, 129, 126, 129, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 126, 129, 126, 146, 109, 146, 113, 142, 113, 129, 126, 129, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 126, 129, 126, 142, 113, 142, 146, 109, 146, 126, 129, 126, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 129, 126, 129, 109, 146, 109, 145, 110, 145, 126, 129, 126, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 129, 126, 129, 110, 145, 110, 147, 108, 147, 126, 129, 126, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 129, 126, 129, 108, 147, 108, 116, 139, 116, 128, 127, 128, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 127, 128, 127, 139, 116, 139, 109, 146, 109, 129, 126, 129, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 126, 129, 126, 146, 109, 146, 108, 147, 108, 129, 126, 129, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 126, 129, 126, 147, 108, 147, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 128, 147, 108, 147, 126, 129, 126, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 129, 126, 129, 108, 147, 108, 146, 109, 146, 126, 129, 126, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 129, 126, 129, 109, 146, 109, 139, 116, 139, 127, 128, 127, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 128, 127, 128, 116, 139, 116, 108, 147, 108, 129, 126, 129, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 126, 129, 126, 147, 108, 147, 110, 145, 110, 129, 126, 129, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 126, 129, 126, 145, 110, 145, 109, 146, 109, 129, 126, 129, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 126, 129, 126, 146, 109, 146, 142, 113, 142, 126, 129, 126, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 129, 126, 129, 113, 142, 113, 146, 109, 146, 126, 129, 126, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 129, 126, 129, 109, 146, 109, 148, 107, 148, 126, 129, 126, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 129, 126, 129, 107, 148, 107, 124, 131, 124, 128, 127, 128, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 127, 128, 127, 131, 124, 131, 108, 147, 108, 129, 126, 129, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 126, 129, 126, 147, 108, 147, 108, 147, 108, 129, 126, 129, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 126, 129, 126, 147, 108, 147, 120, 135, 120, 128, 127, 128, 127, 128, 127, 127, 128, 127, 128, 128, 128, 128, 127, 128, 128, 127, 128, 127, 128, 127, 135, 120, 135, 147, 108, 147, 126, 129, 126, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 129, 126, 129, 108, 147, 108, 145, 110, 145, 126, 129, 126, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 129, 126, 129, 110, 145, 110, 145, 110, 145, 126, 129, 126, 128, 127, 128, 128, 127, 128, 128, 128, 128, 127, 128, 127, 127, 128, 127, 129, 126, 129, 110, 145, 110};
    static const uint8_t b_checker_13x11_29x4[] = {9, 246, 9, 9, 246, 9, 9, 246, 9, 19, 236, 19, 133, 122, 133, 242, 13, 242, 246, 9, 246, 246, 9, 246, 182, 73, 182, 54, 201, 54, 9, 246, 9, 9, 246, 9, 24, 231, 24, 143, 112, 143, 246, 9, 246, 246, 9, 246, 246, 9, 246, 173, 82, 173, 46, 209, 46, 9, 246, 9, 9, 246, 9, 31, 224, 31, 153, 102, 153, 246, 9, 246, 246, 9, 246, 246, 9, 246, 156, 99, 156, 37, 218, 37, 9, 246, 9, 221, 34, 221, 221, 34, 221, 221, 34, 221, 213, 42, 213, 123, 132, 123, 38, 217, 38, 34, 221, 34, 34, 221, 34, 85, 170, 85, 185, 70, 185, 221, 34, 221, 221, 34, 221, 208, 47, 208, 115, 140, 115, 34, 221, 34, 34, 221, 34, 34, 221, 34, 92, 163, 92, 191, 64, 191, 221, 34, 221, 221, 34, 221, 203, 52, 203, 107, 148, 107, 34, 221, 34, 34, 221, 34, 34, 221, 34, 105, 150, 105, 199, 56, 199, 221, 34, 221, 50, 205, 50, 50, 205, 50, 50, 205, 50, 57, 198, 57, 131, 124, 131, 202, 53, 202, 205, 50, 205, 205, 50, 205, 163, 92, 163, 80, 175, 80, 50, 205, 50, 50, 205, 50, 61, 194, 61, 137, 118, 137, 205, 50, 205, 205, 50, 205, 205, 50, 205, 157, 98, 157, 75, 180, 75, 50, 205, 50, 50, 205, 50, 65, 190, 65, 144, 111, 144, 205, 50, 205, 205, 50, 205, 205, 50, 205, 146, 109, 146, 68, 187, 68, 50, 205, 50, 172, 83, 172, 172, 83, 172, 172, 83, 172, 168, 87, 168, 126, 129, 126, 85, 170, 85, 83, 172, 83, 83, 172, 83, 107, 148, 107, 155, 100, 155, 172, 83, 172, 172, 83, 172, 166, 89, 166, 122, 133, 122, 83, 172, 83, 83, 172, 83, 83, 172, 83, 111, 144, 111, 158, 97, 158, 172, 83, 172, 172, 83, 172, 163, 92, 163, 118, 137, 118, 83, 172, 83, 83, 172, 83, 83, 172, 83, 117, 138, 117, 161, 94, 161, 172, 83, 172};
    static const struct {
        void (*fill)(image_rgb *);
        int w, h, ow, oh;
        const uint8_t *want;
        size_t len;
    } cases[] = {
        {fill_step, 12, 6, 30, 13, b_step_12x6_30x13, sizeof(b_step_12x6_30x13)},
        {fill_pattern, 7, 5, 3, 2, b_pattern_7x5_3x2, sizeof(b_pattern_7x5_3x2)},
        {fill_pattern, 7, 5, 11, 9, b_pattern_7x5_11x9, sizeof(b_pattern_7x5_11x9)},
        {fill_pattern, 7, 5, 4, 5, b_pattern_7x5_4x5, sizeof(b_pattern_7x5_4x5)},
        {fill_pattern, 7, 5, 7, 3, b_pattern_7x5_7x3, sizeof(b_pattern_7x5_7x3)},
        {fill_pattern, 7, 5, 2, 5, b_pattern_7x5_2x5, sizeof(b_pattern_7x5_2x5)},
        {fill_checker, 40, 30, 7, 5, b_checker_40x30_7x5, sizeof(b_checker_40x30_7x5)},
        {fill_checker, 40, 30, 9, 33, b_checker_40x30_9x33, sizeof(b_checker_40x30_9x33)},
        {fill_checker, 13, 11, 29, 4, b_checker_13x11_29x4, sizeof(b_checker_13x11_29x4)},
    };
    char err[256];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        image_rgb src, out;
        if (!CHECK(alloc_image(&src, cases[i].w, cases[i].h))) return;
        cases[i].fill(&src);
        if (CHECK_EQ_INT(preprocess_resize_rgb(&src, cases[i].ow, cases[i].oh, PREPROCESS_BICUBIC, &out, err,
                                               sizeof(err)),
                         0)) {
            CHECK_EQ_U64((size_t)out.width * out.height * 3, cases[i].len);
            size_t first = cases[i].len;
            for (size_t k = 0; k < cases[i].len; k++)
                if (out.pixels[k] != cases[i].want[k]) {
                    first = k;
                    break;
                }
            CHECK_MSG(first == cases[i].len, "bicubic %dx%d -> %dx%d differs from Pillow at byte %zu: %u != %u",
                      cases[i].w, cases[i].h, cases[i].ow, cases[i].oh, first,
                      first < cases[i].len ? out.pixels[first] : 0, first < cases[i].len ? cases[i].want[first] : 0);
            free(out.pixels);
        }
        free(src.pixels);
    }
    /* The same input through bilinear gives a different result: the filter
     * argument is honoured. */
    image_rgb src, a, b;
    if (CHECK(alloc_image(&src, 12, 6))) {
        fill_step(&src);
        if (CHECK_EQ_INT(preprocess_resize_rgb(&src, 30, 13, PREPROCESS_BILINEAR, &a, err, sizeof(err)), 0)) {
            if (CHECK_EQ_INT(preprocess_resize_rgb(&src, 30, 13, PREPROCESS_BICUBIC, &b, err, sizeof(err)), 0)) {
                CHECK(memcmp(a.pixels, b.pixels, 30 * 13 * 3) != 0);
                free(b.pixels);
            }
            free(a.pixels);
        }
        free(src.pixels);
    }
}

/* Resize([h, w]) and the interpolation names. */
static void test_resize_hw(void) {
    char err[256];
    preprocess_interpolation ip = PREPROCESS_BICUBIC;
    CHECK_EQ_INT(preprocess_interpolation_parse("bilinear", &ip), 0);
    CHECK_EQ_INT(ip, PREPROCESS_BILINEAR);
    CHECK_EQ_INT(preprocess_interpolation_parse("bicubic", &ip), 0);
    CHECK_EQ_INT(ip, PREPROCESS_BICUBIC);
    CHECK_EQ_INT(preprocess_interpolation_parse("nearest", &ip), -1);
    CHECK_EQ_INT(preprocess_interpolation_parse("BICUBIC ", &ip), -1);
    CHECK_EQ_INT(preprocess_interpolation_parse(NULL, &ip), -1);
    CHECK_STR(preprocess_interpolation_name(PREPROCESS_BICUBIC), "bicubic");
    CHECK_STR(preprocess_interpolation_name(PREPROCESS_BILINEAR), "bilinear");

    preprocess_config cfg;
    preprocess_config_default(&cfg);
    cfg.resize_short = 0;
    cfg.resize_width = 5;
    cfg.resize_height = 0;
    preprocess *pp = NULL;
    CHECK_EQ_INT(preprocess_create(&cfg, &pp, err, sizeof(err)), -1);
    cfg.resize_height = 3;
    cfg.interpolation = (preprocess_interpolation)7;
    CHECK_EQ_INT(preprocess_create(&cfg, &pp, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, "interpolation");

    /* 7x5 pattern, Resize([2, 4]) bicubic, CenterCrop([2, 3]): columns 0..2
     * (round(0.5) = 0) of Pillow's 4x2 bicubic resize. */
    cfg.interpolation = PREPROCESS_BICUBIC;
    cfg.resize_width = 4;
    cfg.resize_height = 2;
    cfg.crop_width = 3;
    cfg.crop_height = 2;
    image_rgb img, full;
    if (!CHECK_EQ_INT(preprocess_create(&cfg, &pp, err, sizeof(err)), 0) || !CHECK(alloc_image(&img, 7, 5))) return;
    fill_pattern(&img);
    float out[18];
    CHECK_EQ_INT(preprocess_tensor_len(pp), 18);
    CHECK_EQ_INT(preprocess_run(pp, &img, out, err, sizeof(err)), 0);
    if (CHECK_EQ_INT(preprocess_resize_rgb(&img, 4, 2, PREPROCESS_BICUBIC, &full, err, sizeof(err)), 0)) {
        int wrong = 0;
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 2; y++)
                for (int x = 0; x < 3; x++)
                    if (out[c * 6 + y * 3 + x] != normalise(full.pixels[(y * 4 + x) * 3 + c], cfg.mean[c], cfg.std[c]))
                        wrong++;
        CHECK_EQ_INT(wrong, 0);
        free(full.pixels);
    }
    /* The [h, w] resize ignores the aspect ratio: a 1x10000000 image is
     * fine (no elongation limit), its source rect is all of it. */
    image_rect need;
    CHECK_EQ_INT(preprocess_source_rect(pp, 1, 10000000, &need, err, sizeof(err)), 0);
    CHECK(need.x == 0 && need.width == 1 && need.y == 0 && need.height == 10000000);
    free(img.pixels);
    preprocess_free(pp);
}

/* The reference: resize the whole image to torchvision's size, then
 * CenterCrop (pad with byte 0 where the crop is larger), then normalise.
 * Offsets are computed here independently of preprocess_crop_offset. */
static int reference_tensor(const preprocess_config *cfg, const image_rgb *img, float *out) {
    char err[256];
    int rw, rh;
    if (cfg->resize_short > 0) {
        preprocess_resized_size(img->width, img->height, cfg->resize_short, &rw, &rh);
    } else {
        rw = cfg->resize_width;
        rh = cfg->resize_height;
    }
    image_rgb resized;
    if (preprocess_resize_rgb(img, rw, rh, cfg->interpolation, &resized, err, sizeof(err)) != 0) return -1;
    int cw = cfg->crop_width, ch = cfg->crop_height;
    /* torchvision: pad (crop - size) // 2 before, the rest after; then crop
     * at int(round((size - crop) / 2.0)) of the padded image. */
    int pad_l = cw > rw ? (cw - rw) / 2 : 0, pad_t = ch > rh ? (ch - rh) / 2 : 0;
    int pw = cw > rw ? cw : rw, ph = ch > rh ? ch : rh;
    int left = (int)rint((pw - cw) / 2.0), top = (int)rint((ph - ch) / 2.0);
    size_t plane = (size_t)cw * ch;
    for (int y = 0; y < ch; y++)
        for (int x = 0; x < cw; x++) {
            int sx = x + left - pad_l, sy = y + top - pad_t;
            int inside = sx >= 0 && sx < rw && sy >= 0 && sy < rh;
            for (int c = 0; c < 3; c++) {
                uint8_t v = inside ? resized.pixels[((size_t)sy * rw + sx) * 3 + c] : 0;
                out[c * plane + (size_t)y * cw + x] = normalise(v, cfg->mean[c], cfg->std[c]);
            }
        }
    free(resized.pixels);
    return 0;
}

static void compare_with_reference(const preprocess_config *cfg, int w, int h, int pattern) {
    char err[256];
    preprocess *pp = NULL;
    if (!CHECK_EQ_INT(preprocess_create(cfg, &pp, err, sizeof(err)), 0)) return;
    size_t n = preprocess_tensor_len(pp);
    float *got = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float));
    image_rgb img;
    if (CHECK(got && want && alloc_image(&img, w, h))) {
        if (pattern == 0) {
            fill_random(&img);
        } else { /* smooth gradient: resampling rounding shows up there too */
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    for (int c = 0; c < 3; c++)
                        img.pixels[((size_t)y * w + x) * 3 + c] = (uint8_t)((x * 255 / (w > 1 ? w - 1 : 1) + y * 3 + c * 40) & 0xFF);
        }
        int rc = preprocess_run(pp, &img, got, err, sizeof(err));
        CHECK_MSG(rc == 0, "preprocess_run %dx%d: %s", w, h, err);
        CHECK_EQ_INT(reference_tensor(cfg, &img, want), 0);
        size_t mismatches = 0, first = 0;
        for (size_t i = 0; i < n; i++)
            if (memcmp(&got[i], &want[i], sizeof(float)) != 0) {
                if (!mismatches) first = i;
                mismatches++;
            }
        CHECK_MSG(rc == 0 && mismatches == 0,
                  "%dx%d (resize %d, crop %dx%d): %zu of %zu values differ from resize+crop, first at %zu (%.9g vs %.9g)",
                  w, h, cfg->resize_short, cfg->crop_width, cfg->crop_height, mismatches, n, first,
                  mismatches ? got[first] : 0.0, mismatches ? want[first] : 0.0);
        free(img.pixels);
    }
    free(got);
    free(want);
    preprocess_free(pp);
}

static void test_consistency(void) {
    preprocess_config cfg;
    preprocess_config_default(&cfg);
    static const int sizes[][2] = {{1, 1},     {2, 3},     {3, 2},     {2000, 20}, {20, 2000}, {301, 225},
                                   {224, 224}, {256, 256}, {255, 255}, {255, 300}, {300, 255}, {1100, 825},
                                   {640, 480}, {480, 640}, {500, 375}, {227, 229}, {7, 5},     {999, 1000}};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        compare_with_reference(&cfg, sizes[i][0], sizes[i][1], 0);
        compare_with_reference(&cfg, sizes[i][0], sizes[i][1], 1);
    }
    /* Non-square crop, larger and smaller than the resized sides. */
    cfg.crop_width = 300;
    cfg.crop_height = 160;
    compare_with_reference(&cfg, 640, 480, 0);
    compare_with_reference(&cfg, 480, 640, 0);
    compare_with_reference(&cfg, 255, 255, 0);
    /* Other resize targets, including crop > resize (padding). */
    preprocess_config_default(&cfg);
    cfg.resize_short = 200;
    compare_with_reference(&cfg, 400, 300, 0);
    compare_with_reference(&cfg, 100, 100, 0);
    compare_with_reference(&cfg, 2000, 20, 0);
    cfg.resize_short = 201;
    compare_with_reference(&cfg, 301, 225, 0);
    cfg.resize_short = 224;
    compare_with_reference(&cfg, 224, 224, 0);
    compare_with_reference(&cfg, 333, 224, 0);

    /* Bicubic (efficientnet_b0's Resize(256) CenterCrop(224)): the windowed
     * path reads bicubic's wider support. */
    preprocess_config_default(&cfg);
    cfg.interpolation = PREPROCESS_BICUBIC;
    cfg.resize_short = 256;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        compare_with_reference(&cfg, sizes[i][0], sizes[i][1], 0);
        compare_with_reference(&cfg, sizes[i][0], sizes[i][1], 1);
    }
    /* Resize([h, w]) with a non-square crop, both filters. */
    for (int f = 0; f < 2; f++) {
        preprocess_config_default(&cfg);
        cfg.interpolation = f ? PREPROCESS_BICUBIC : PREPROCESS_BILINEAR;
        cfg.resize_short = 0;
        cfg.resize_width = 320;
        cfg.resize_height = 240;
        cfg.crop_width = 288;
        cfg.crop_height = 224;
        compare_with_reference(&cfg, 640, 480, 0);
        compare_with_reference(&cfg, 480, 640, 1);
        compare_with_reference(&cfg, 100, 30, 0);
        compare_with_reference(&cfg, 320, 240, 0);
        cfg.crop_width = 400; /* wider than the resize: padded left and right */
        compare_with_reference(&cfg, 500, 375, 0);
    }
}

/* Resize 200, crop 224: torchvision pads with black (byte 0) before
 * normalising, (224 - 200) // 2 = 12 on the left/top. */
static void test_padding(void) {
    char err[256];
    preprocess_config cfg;
    preprocess_config_default(&cfg);
    cfg.resize_short = 200;
    preprocess *pp = NULL;
    if (!CHECK_EQ_INT(preprocess_create(&cfg, &pp, err, sizeof(err)), 0)) return;
    size_t n = preprocess_tensor_len(pp), plane = n / 3;
    float *out = malloc(n * sizeof(float));
    image_rgb img;
    if (!CHECK(out && alloc_image(&img, 100, 100))) return;
    /* A white square image -> 200x200, padded 12 on every side. */
    memset(img.pixels, 255, 100 * 100 * 3);
    CHECK_EQ_INT(preprocess_run(pp, &img, out, err, sizeof(err)), 0);
    int wrong = 0;
    for (int c = 0; c < 3; c++) {
        float pad = normalise(0, cfg.mean[c], cfg.std[c]), white = normalise(255, cfg.mean[c], cfg.std[c]);
        for (int y = 0; y < 224; y++)
            for (int x = 0; x < 224; x++) {
                int inside = x >= 12 && x < 212 && y >= 12 && y < 212;
                if (out[c * plane + (size_t)y * 224 + x] != (inside ? white : pad)) wrong++;
            }
    }
    CHECK_MSG(wrong == 0, "100x100 white, resize 200 crop 224: %d values not pad/white at the right places", wrong);
    CHECK_EQ_FLOAT(out[0], normalise(0, 0.485f, 0.229f));
    CHECK_EQ_FLOAT(out[12 * 224 + 12], normalise(255, 0.485f, 0.229f));
    CHECK_EQ_FLOAT(out[11 * 224 + 12], normalise(0, 0.485f, 0.229f));
    CHECK_EQ_FLOAT(out[12 * 224 + 11], normalise(0, 0.485f, 0.229f));
    CHECK_EQ_FLOAT(out[211 * 224 + 211], normalise(255, 0.485f, 0.229f));
    CHECK_EQ_FLOAT(out[212 * 224 + 211], normalise(0, 0.485f, 0.229f));
    CHECK_EQ_FLOAT(out[211 * 224 + 212], normalise(0, 0.485f, 0.229f));
    free(img.pixels);

    /* 400x300 white -> 266x200: cropped horizontally (offset 21), padded 12
     * rows above and 12 below. */
    if (CHECK(alloc_image(&img, 400, 300))) {
        memset(img.pixels, 255, 400 * 300 * 3);
        CHECK_EQ_INT(preprocess_run(pp, &img, out, err, sizeof(err)), 0);
        float pad = normalise(0, cfg.mean[1], cfg.std[1]), white = normalise(255, cfg.mean[1], cfg.std[1]);
        int top = 0, bottom = 0, bad_rows = 0;
        for (int y = 0; y < 224; y++) {
            const float *row = out + plane + (size_t)y * 224;
            int all_pad = 1, all_white = 1;
            for (int x = 0; x < 224; x++) all_pad &= row[x] == pad, all_white &= row[x] == white;
            if (all_pad && y < 112) top++;
            else if (all_pad) bottom++;
            else if (!all_white) bad_rows++;
        }
        CHECK_EQ_INT(top, 12);
        CHECK_EQ_INT(bottom, 12);
        CHECK_EQ_INT(bad_rows, 0);
        free(img.pixels);
    }
    preprocess_free(pp);

    /* Resize 201: 23 rows of padding, 11 above and 12 below. */
    cfg.resize_short = 201;
    if (CHECK_EQ_INT(preprocess_create(&cfg, &pp, err, sizeof(err)), 0) && CHECK(alloc_image(&img, 201, 201))) {
        memset(img.pixels, 255, 201 * 201 * 3);
        CHECK_EQ_INT(preprocess_run(pp, &img, out, err, sizeof(err)), 0);
        float pad = normalise(0, cfg.mean[2], cfg.std[2]);
        const float *p = out + 2 * plane;
        int top = 0, left = 0, bottom = 0, right = 0;
        while (top < 224 && p[(size_t)top * 224 + 112] == pad) top++;
        while (bottom < 224 && p[(size_t)(223 - bottom) * 224 + 112] == pad) bottom++;
        while (left < 224 && p[112 * 224 + left] == pad) left++;
        while (right < 224 && p[112 * 224 + 223 - right] == pad) right++;
        CHECK_EQ_INT(top, 11);
        CHECK_EQ_INT(bottom, 12);
        CHECK_EQ_INT(left, 11);
        CHECK_EQ_INT(right, 12);
        free(img.pixels);
        preprocess_free(pp);
    }
    free(out);
}

/* End to end on the 7x5 pattern with resize 4, crop 3: Pillow resizes to
 * 5x4 and CenterCrop takes columns 1..3, rows 0..2 (round(0.5) = 0). */
static void test_pipeline_golden(void) {
    static const uint8_t crop[27] = {81, 134, 152, 135, 135, 177, 160, 177, 145, 129, 135, 105, 137, 68,
                                     94, 123, 94,  147, 88,  94,  147, 94,  147, 173, 146, 133, 103};
    char err[256];
    preprocess_config cfg;
    preprocess_config_default(&cfg);
    cfg.resize_short = 4;
    cfg.crop_width = cfg.crop_height = 3;
    preprocess *pp = NULL;
    image_rgb img;
    if (!CHECK_EQ_INT(preprocess_create(&cfg, &pp, err, sizeof(err)), 0) || !CHECK(alloc_image(&img, 7, 5))) return;
    fill_pattern(&img);
    float out[27];
    CHECK_EQ_INT(preprocess_run(pp, &img, out, err, sizeof(err)), 0);
    int wrong = 0;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < 9; i++)
            if (out[c * 9 + i] != normalise(crop[i * 3 + c], cfg.mean[c], cfg.std[c])) wrong++;
    CHECK_MSG(wrong == 0, "7x5 resize 4 crop 3: %d of 27 values differ from Pillow + CenterCrop", wrong);

    /* Bad images. */
    image_rgb empty = {0, 0, NULL};
    CHECK_EQ_INT(preprocess_run(pp, &empty, out, err, sizeof(err)), -1);
    image_rgb nopix = {3, 3, NULL};
    CHECK_EQ_INT(preprocess_run(pp, &nopix, out, err, sizeof(err)), -1);
    free(img.pixels);
    preprocess_free(pp);
}

/* An extreme aspect ratio: 1 x 10,000,000 resizes (in torchvision) to
 * 255 x 2,550,000,000, beyond int. It must fail cleanly, not crash. */
static void test_extreme_aspect(void) {
    char err[256];
    preprocess_config cfg;
    preprocess_config_default(&cfg);
    preprocess *pp = NULL;
    if (!CHECK_EQ_INT(preprocess_create(&cfg, &pp, err, sizeof(err)), 0)) return;
    float *out = malloc(preprocess_tensor_len(pp) * sizeof(float));
    image_rgb tall;
    if (out && alloc_image(&tall, 1, 10000000)) {
        memset(tall.pixels, 100, (size_t)10000000 * 3);
        err[0] = '\0';
        int rc = preprocess_run(pp, &tall, out, err, sizeof(err));
        CHECK_MSG(rc == -1 && err[0], "1x10000000 image: rc %d", rc);
        free(tall.pixels);
    }
    free(out);
    preprocess_free(pp);
}

/* preprocess_source_rect: the source pixels the crop reads. dog.jpg's size
 * (1100x825 -> 340x255, crop 224 at 58,16) reads a centred ~725 px square;
 * an image too elongated to resize is refused with a message. */
static void test_source_rect(void) {
    char err[256];
    preprocess_config cfg;
    preprocess_config_default(&cfg);
    preprocess *pp = NULL;
    if (!CHECK_EQ_INT(preprocess_create(&cfg, &pp, err, sizeof(err)), 0)) return;
    image_rect need;
    if (CHECK_EQ_INT(preprocess_source_rect(pp, 1100, 825, &need, err, sizeof(err)), 0)) {
        CHECK(need.x > 150 && need.x < 200 && need.width > 700 && need.width < 760);
        CHECK(need.y > 35 && need.y < 65 && need.height > 700 && need.height < 760);
        CHECK(need.x + need.width <= 1100 && need.y + need.height <= 825);
    }
    /* no resize needed on either axis: exactly the crop */
    if (CHECK_EQ_INT(preprocess_source_rect(pp, 255, 255, &need, err, sizeof(err)), 0)) {
        CHECK(need.x == 16 && need.y == 16 && need.width == 224 && need.height == 224);
    }
    /* smaller than the crop: all of it (torchvision pads) */
    if (CHECK_EQ_INT(preprocess_source_rect(pp, 3, 2, &need, err, sizeof(err)), 0)) {
        CHECK(need.x == 0 && need.y == 0 && need.width == 3 && need.height == 2);
    }
    err[0] = '\0';
    CHECK_EQ_INT(preprocess_source_rect(pp, 1, 10000000, &need, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, "elongated");
    CHECK_EQ_INT(preprocess_source_rect(pp, 0, 10, &need, err, sizeof(err)), -1);
    preprocess_free(pp);
}

int main(void) {
    test_source_rect();
    test_resized_size();
    test_crop_offset();
    test_create();
    test_normalisation();
    test_resampler_golden();
    test_bicubic_golden();
    test_resize_hw();
    test_consistency();
    test_padding();
    test_pipeline_golden();
    test_extreme_aspect();
    return check_summary();
}
