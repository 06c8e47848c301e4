#include "preprocess.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <pthread.h>
#define INFERD_HAVE_SSSE3_PATH 1
#endif

/* Pillow's fixed-point resampling: weights are scaled by 2^22 so that a sum of
 * 8-bit samples times weights fits an int. */
#define RESAMPLE_PRECISION_BITS (32 - 8 - 2)

/* A Pillow resampling filter: its kernel and the half-width it reaches at
 * scale 1 (Resample.c's struct filter). */
typedef struct {
    double (*kernel)(double x);
    double support;
} resample_filter;

static double bilinear_filter(double x) {
    if (x < 0.0) x = -x;
    if (x < 1.0) return 1.0 - x;
    return 0.0;
}

/* Keys' cubic convolution with Pillow's a = -0.5; its negative lobes make
 * coefficients negative, so sums can leave [0, 255] before clipping. */
static double bicubic_filter(double x) {
    const double a = -0.5;
    if (x < 0.0) x = -x;
    if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
    if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
    return 0.0;
}

static const resample_filter BILINEAR = {bilinear_filter, 1.0};
static const resample_filter BICUBIC = {bicubic_filter, 2.0};

static const resample_filter *filter_for(preprocess_interpolation interpolation) {
    return interpolation == PREPROCESS_BICUBIC ? &BICUBIC : &BILINEAR;
}

const char *preprocess_interpolation_name(preprocess_interpolation interpolation) {
    return interpolation == PREPROCESS_BICUBIC ? "bicubic" : "bilinear";
}

int preprocess_interpolation_parse(const char *name, preprocess_interpolation *out) {
    if (!name) return -1;
    if (strcmp(name, "bilinear") == 0) {
        *out = PREPROCESS_BILINEAR;
        return 0;
    }
    if (strcmp(name, "bicubic") == 0) {
        *out = PREPROCESS_BICUBIC;
        return 0;
    }
    return -1;
}

struct preprocess {
    preprocess_config cfg;
    /* Every tensor value depends only on (channel, byte): ToTensor's v/255
     * and Normalize's (x-mean)/std are computed once, in float32 like torch. */
    float lut[3][256];
};

void preprocess_config_default(preprocess_config *cfg) {
    cfg->resize_short = 255;
    cfg->resize_width = 0;
    cfg->resize_height = 0;
    cfg->interpolation = PREPROCESS_BILINEAR;
    cfg->crop_width = 224;
    cfg->crop_height = 224;
    cfg->mean[0] = 0.485f;
    cfg->mean[1] = 0.456f;
    cfg->mean[2] = 0.406f;
    cfg->std[0] = 0.229f;
    cfg->std[1] = 0.224f;
    cfg->std[2] = 0.225f;
}

int preprocess_create(const preprocess_config *cfg, preprocess **out, char *err, size_t errlen) {
    *out = NULL;
    int resize_ok = cfg->resize_short > 0
                        ? cfg->resize_short <= 16384
                        : cfg->resize_short == 0 && cfg->resize_width > 0 && cfg->resize_width <= 16384 &&
                              cfg->resize_height > 0 && cfg->resize_height <= 16384;
    if (!resize_ok || cfg->crop_width <= 0 || cfg->crop_height <= 0 || cfg->crop_width > 16384 ||
        cfg->crop_height > 16384) {
        snprintf(err, errlen, "preprocess sizes out of range (resize %d or %dx%d, crop %dx%d)", cfg->resize_short,
                 cfg->resize_width, cfg->resize_height, cfg->crop_width, cfg->crop_height);
        return -1;
    }
    if (cfg->interpolation != PREPROCESS_BILINEAR && cfg->interpolation != PREPROCESS_BICUBIC) {
        snprintf(err, errlen, "unknown interpolation %d", (int)cfg->interpolation);
        return -1;
    }
    for (int c = 0; c < 3; c++) {
        if (!(cfg->std[c] > 0.0f) || !isfinite(cfg->mean[c]) || !isfinite(cfg->std[c])) {
            snprintf(err, errlen, "normalisation std must be positive and mean finite (channel %d)", c);
            return -1;
        }
    }
    preprocess *pp = calloc(1, sizeof(*pp));
    if (!pp) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pp->cfg = *cfg;
    for (int c = 0; c < 3; c++) {
        for (int v = 0; v < 256; v++) {
            volatile float scaled = (float)v / 255.0f; /* ToTensor: a separate float32 op */
            pp->lut[c][v] = (scaled - cfg->mean[c]) / cfg->std[c];
        }
    }
    *out = pp;
    return 0;
}

void preprocess_free(preprocess *pp) { free(pp); }

size_t preprocess_tensor_len(const preprocess *pp) {
    return (size_t)3 * (size_t)pp->cfg.crop_width * (size_t)pp->cfg.crop_height;
}

int preprocess_resized_size(int width, int height, int target, int *out_width, int *out_height) {
    int shorter = width <= height ? width : height;
    int longer = width <= height ? height : width;
    /* Python: int(target * long / short), a true division of exact integers. */
    double scaled_long = shorter > 0 ? (double)((long long)target * longer) / (double)shorter : 0.0;
    if (shorter <= 0 || !(scaled_long < (double)INT_MAX)) {
        *out_width = *out_height = 0;
        return -1;
    }
    int new_long = (int)scaled_long;
    if (width <= height) {
        *out_width = target;
        *out_height = new_long;
    } else {
        *out_width = new_long;
        *out_height = target;
    }
    return 0;
}

int preprocess_crop_offset(int size, int crop) {
    if (crop > size) {
        /* torchvision pads (crop - size) // 2 on the leading side first. */
        return -((crop - size) / 2);
    }
    /* int(round((size - crop) / 2.0)) with round-half-to-even. */
    int diff = size - crop;
    int half = diff / 2;
    if (diff % 2 == 1 && half % 2 == 1) half += 1;
    return half;
}

/* Resampling weights for a run of output positions of one axis. */
typedef struct {
    int first;      /* first output position covered */
    int count;      /* how many output positions */
    int ksize;      /* weights stored per position */
    int *bounds;    /* per position: first input index, number of inputs */
    int32_t *coeffs;
} axis_weights;

static void axis_weights_free(axis_weights *aw) {
    free(aw->bounds);
    free(aw->coeffs);
    memset(aw, 0, sizeof(*aw));
}

/* Pillow's filter geometry along one axis: the filter's support, scaled
 * when downsampling. */
static double axis_support(const resample_filter *f, int in_size, int out_size, double *scale) {
    *scale = (double)((float)in_size - 0.0f) / out_size;
    double filterscale = *scale < 1.0 ? 1.0 : *scale;
    return f->support * filterscale;
}

/* The input run output position xx reads: [*xmin, *xmin + *count). */
static void axis_bounds(const resample_filter *f, int in_size, int out_size, int xx, double *center, int *xmin,
                        int *count) {
    double scale;
    double support = axis_support(f, in_size, out_size, &scale);
    *center = 0.0 + (xx + 0.5) * scale;
    int lo = (int)(*center - support + 0.5);
    if (lo < 0) lo = 0;
    int hi = (int)(*center + support + 0.5);
    if (hi > in_size) hi = in_size;
    *xmin = lo;
    *count = hi - lo;
}

/* Pillow's precompute_coeffs + normalize_coeffs_8bpc for output positions
 * [first, first+count) only: each position's weights depend on nothing else,
 * so computing a sub-range is exact. */
static int axis_weights_build(const resample_filter *f, int in_size, int out_size, int first, int count,
                              axis_weights *aw) {
    memset(aw, 0, sizeof(*aw));
    double scale;
    double support = axis_support(f, in_size, out_size, &scale);
    double filterscale = scale < 1.0 ? 1.0 : scale;
    int ksize = (int)ceil(support) * 2 + 1;
    if (count <= 0 || ksize <= 0 || (size_t)count > SIZE_MAX / sizeof(double) / (size_t)ksize) return -1;

    double *weights = malloc((size_t)ksize * sizeof(double));
    aw->bounds = malloc((size_t)count * 2 * sizeof(int));
    aw->coeffs = malloc((size_t)count * (size_t)ksize * sizeof(int32_t));
    if (!weights || !aw->bounds || !aw->coeffs) {
        free(weights);
        axis_weights_free(aw);
        return -1;
    }
    aw->first = first;
    aw->count = count;
    aw->ksize = ksize;
    double ss = 1.0 / filterscale;
    for (int i = 0; i < count; i++) {
        double center;
        int xmin, xmax;
        axis_bounds(f, in_size, out_size, first + i, &center, &xmin, &xmax);
        double ww = 0.0;
        for (int x = 0; x < xmax; x++) {
            double w = f->kernel((x + xmin - center + 0.5) * ss);
            weights[x] = w;
            ww += w;
        }
        int32_t *k = &aw->coeffs[(size_t)i * ksize];
        for (int x = 0; x < ksize; x++) {
            double w = 0.0;
            if (x < xmax) w = ww != 0.0 ? weights[x] / ww : weights[x];
            k[x] = w < 0 ? (int32_t)(-0.5 + w * (1 << RESAMPLE_PRECISION_BITS))
                         : (int32_t)(0.5 + w * (1 << RESAMPLE_PRECISION_BITS));
        }
        aw->bounds[2 * i] = xmin;
        aw->bounds[2 * i + 1] = xmax;
    }
    free(weights);
    return 0;
}

/* Pillow's clip8: negative coefficients (bicubic) can drive a sum below 0 or
 * above 255 << PRECISION_BITS; both are clipped, not wrapped. */
static inline uint8_t clip8(int32_t acc) {
    if (acc < 0) return 0;
    acc >>= RESAMPLE_PRECISION_BITS;
    return acc > 255 ? 255 : (uint8_t)acc;
}

/* The source columns [*lo, *hi) that output positions [first, first+count)
 * of an axis resized from in_size to out_size read (the positions
 * themselves when the axis keeps its size). */
static void axis_source_span(const resample_filter *f, int in_size, int out_size, int first, int count, int *lo,
                             int *hi) {
    if (in_size == out_size) {
        *lo = first;
        *hi = first + count;
        return;
    }
    double center;
    int start, n;
    axis_bounds(f, in_size, out_size, first, &center, lo, &n);
    axis_bounds(f, in_size, out_size, first + count - 1, &center, &start, &n);
    *hi = start + n;
}

#ifdef INFERD_HAVE_SSSE3_PATH
/* The horizontal pass with SSSE3, exactly equal to the scalar one. pmaddwd
 * multiplies 16-bit lanes, and Pillow's coefficients have 22 bits, so each
 * coefficient k is split as k = kh * 2^11 + kl with kl = k & 2047 in
 * [0, 2047] and kh = k >> 11 (arithmetic, so negative for bicubic's negative
 * lobes); both fit a signed 16-bit lane. The sum of p * k is then
 * 2^11 * sum(p * kh) + sum(p * kl). The lanes add modulo 2^32, and the true
 * sum is Pillow's own int accumulator, which fits 32 bits, so intermediate
 * wrap-around cancels and the result equals the scalar pass bit for bit
 * (negative sums included, clipped afterwards like Pillow's clip8). One
 * pmaddwd covers two taps of R, G and B. */
typedef struct {
    int pairs;       /* tap pairs stored per output column */
    __m128i *coeffs; /* per column: pairs low-part vectors, then pairs high-part vectors */
    /* AVX2: two neighbouring columns per 256-bit vector (column 2c in the
     * low 128 bits, 2c + 1 in the high), same split; NULL when not used. */
    __m256i *coeffs2;
} simd_weights;

typedef enum { RESAMPLE_SCALAR, RESAMPLE_SSSE3, RESAMPLE_AVX2 } resample_simd;

static int simd_weights_build(const axis_weights *aw, simd_weights *sw) {
    sw->pairs = (aw->ksize + 1) / 2;
    sw->coeffs = aligned_alloc(16, (size_t)aw->count * 2 * (size_t)sw->pairs * sizeof(__m128i));
    if (!sw->coeffs) return -1;
    for (int i = 0; i < aw->count; i++) {
        const int32_t *k = &aw->coeffs[(size_t)i * aw->ksize];
        __m128i *lo = sw->coeffs + (size_t)i * 2 * sw->pairs, *hi = lo + sw->pairs;
        for (int j = 0; j < sw->pairs; j++) {
            int32_t a = k[2 * j], b = 2 * j + 1 < aw->ksize ? k[2 * j + 1] : 0;
            int32_t ah32 = a >> 11, bh32 = b >> 11;
            if (ah32 < INT16_MIN || ah32 > INT16_MAX || bh32 < INT16_MIN || bh32 > INT16_MAX) {
                free(sw->coeffs);
                sw->coeffs = NULL;
                return -1; /* a coefficient beyond 2^26: the scalar pass handles it */
            }
            short al = (short)(a & 2047), bl = (short)(b & 2047), ah = (short)ah32, bh = (short)bh32;
            lo[j] = _mm_setr_epi16(al, bl, al, bl, al, bl, 0, 0);
            hi[j] = _mm_setr_epi16(ah, bh, ah, bh, ah, bh, 0, 0);
        }
    }
    return 0;
}

/* Pairs the columns' vectors for the AVX2 pass (an odd last column is left
 * to the SSSE3 loop). Taps past a column's own count have zero weights. */
static int simd_weights_pair(const axis_weights *aw, simd_weights *sw) {
    int column_pairs = aw->count / 2;
    sw->coeffs2 = aligned_alloc(32, ((size_t)column_pairs * 2 * (size_t)sw->pairs + 1) * sizeof(__m256i));
    if (!sw->coeffs2) return -1;
    for (int c = 0; c < column_pairs; c++) {
        const __m128i *a = sw->coeffs + (size_t)(2 * c) * 2 * sw->pairs, *b = a + 2 * sw->pairs;
        __m256i *out = sw->coeffs2 + (size_t)c * 2 * sw->pairs;
        for (int j = 0; j < 2 * sw->pairs; j++) {
            __m128i halves[2] = {a[j], b[j]};
            memcpy(&out[j], halves, sizeof(halves));
        }
    }
    return 0;
}

/* clip8 of the four 32-bit lanes at once, as bytes: an arithmetic shift
 * keeps a negative sum negative, and the two saturating packs clamp to
 * [0, 255], which is clip8 exactly. */
static inline uint32_t clip8_lanes(__m128i sum) {
    __m128i v = _mm_srai_epi32(sum, RESAMPLE_PRECISION_BITS);
    v = _mm_packus_epi16(_mm_packs_epi32(v, v), v);
    return (uint32_t)_mm_cvtsi128_si32(v);
}

/* One row: run holds source columns [col_lo, ...) as packed RGB followed by
 * at least 16 readable bytes. */
__attribute__((target("ssse3"))) static void horizontal_row_ssse3(const uint8_t *run, int col_lo,
                                                                   const axis_weights *hw,
                                                                   const simd_weights *sw, uint8_t *out) {
    const __m128i spread = _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
    const __m128i half = _mm_set1_epi32(1 << (RESAMPLE_PRECISION_BITS - 1));
    for (int i = 0; i < hw->count; i++) {
        const uint8_t *p = run + (size_t)(hw->bounds[2 * i] - col_lo) * 3;
        int pairs = (hw->bounds[2 * i + 1] + 1) / 2;
        const __m128i *lo = sw->coeffs + (size_t)i * 2 * sw->pairs, *hi = lo + sw->pairs;
        __m128i sum_lo = _mm_setzero_si128(), sum_hi = _mm_setzero_si128();
        for (int j = 0; j < pairs; j++) {
            /* R0 G0 B0 R1 G1 B1 -> 16-bit lanes (R0 R1)(G0 G1)(B0 B1)(0 0) */
            __m128i px = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 6 * j)), spread);
            sum_lo = _mm_add_epi32(sum_lo, _mm_madd_epi16(px, lo[j]));
            sum_hi = _mm_add_epi32(sum_hi, _mm_madd_epi16(px, hi[j]));
        }
        __m128i sum = _mm_add_epi32(_mm_add_epi32(_mm_slli_epi32(sum_hi, 11), sum_lo), half);
        uint32_t rgb = clip8_lanes(sum);
        memcpy(out + 3 * i, &rgb, 3);
    }
}

/* The SSSE3 pass two columns at a time: the same lanes, the same sums, so
 * the same bytes; about 40% fewer instructions per output pixel (scripts/
 * profile_request.sh). The first column's taps start at p0, the second's at
 * p1; both read the larger pair count (the other's extra taps weigh 0). */
__attribute__((target("avx2"))) static void horizontal_row_avx2(const uint8_t *run, int col_lo,
                                                                 const axis_weights *hw, const simd_weights *sw,
                                                                 uint8_t *out) {
    const __m256i spread = _mm256_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1, 0, -1, 3, -1, 1,
                                            -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
    const __m256i half = _mm256_set1_epi32(1 << (RESAMPLE_PRECISION_BITS - 1));
    int i = 0;
    for (; i + 1 < hw->count; i += 2) {
        const uint8_t *p0 = run + (size_t)(hw->bounds[2 * i] - col_lo) * 3;
        const uint8_t *p1 = run + (size_t)(hw->bounds[2 * i + 2] - col_lo) * 3;
        int pairs0 = (hw->bounds[2 * i + 1] + 1) / 2, pairs1 = (hw->bounds[2 * i + 3] + 1) / 2;
        int pairs = pairs0 > pairs1 ? pairs0 : pairs1;
        const __m256i *lo = sw->coeffs2 + (size_t)(i / 2) * 2 * sw->pairs, *hi = lo + sw->pairs;
        __m256i sum_lo = _mm256_setzero_si256(), sum_hi = _mm256_setzero_si256();
        for (int j = 0; j < pairs; j++) {
            __m256i px = _mm256_inserti128_si256(
                _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(p0 + 6 * j))),
                _mm_loadu_si128((const __m128i *)(const void *)(p1 + 6 * j)), 1);
            px = _mm256_shuffle_epi8(px, spread);
            sum_lo = _mm256_add_epi32(sum_lo, _mm256_madd_epi16(px, _mm256_load_si256(&lo[j])));
            sum_hi = _mm256_add_epi32(sum_hi, _mm256_madd_epi16(px, _mm256_load_si256(&hi[j])));
        }
        __m256i sum = _mm256_add_epi32(_mm256_add_epi32(_mm256_slli_epi32(sum_hi, 11), sum_lo), half);
        uint32_t rgb0 = clip8_lanes(_mm256_castsi256_si128(sum)), rgb1 = clip8_lanes(_mm256_extracti128_si256(sum, 1));
        memcpy(out + 3 * i, &rgb0, 3);
        memcpy(out + 3 * i + 3, &rgb1, 3);
    }
    if (i < hw->count) {
        /* The odd last column: the SSSE3 pass over a one-column view. */
        axis_weights last = *hw;
        last.bounds = hw->bounds + 2 * i;
        last.count = 1;
        simd_weights one = {sw->pairs, sw->coeffs + (size_t)i * 2 * sw->pairs, NULL};
        horizontal_row_ssse3(run, col_lo, &last, &one, out + 3 * i);
    }
}

/* The widest horizontal pass the CPU runs. INFERD_RESAMPLE_SCALAR=1 forces
 * the portable pass and INFERD_RESAMPLE_SIMD=ssse3 the SSSE3 one, so the
 * tests hold every pass against Pillow on any machine. Decided once per
 * process, not per image. */
static resample_simd detect_simd_level(void) {
    const char *force_scalar = getenv("INFERD_RESAMPLE_SCALAR");
    if (force_scalar && strcmp(force_scalar, "1") == 0) return RESAMPLE_SCALAR;
    if (!__builtin_cpu_supports("ssse3")) return RESAMPLE_SCALAR;
    const char *simd = getenv("INFERD_RESAMPLE_SIMD");
    if (simd && strcmp(simd, "ssse3") == 0) return RESAMPLE_SSSE3;
    return __builtin_cpu_supports("avx2") ? RESAMPLE_AVX2 : RESAMPLE_SSSE3;
}

static resample_simd resolved_simd_level;
static pthread_once_t simd_level_once = PTHREAD_ONCE_INIT;

static void resolve_simd_level(void) { resolved_simd_level = detect_simd_level(); }

static resample_simd simd_level(void) {
    pthread_once(&simd_level_once, resolve_simd_level);
    return resolved_simd_level;
}
#endif

/* One output row of the vertical pass from taps rows of width bytes starting
 * at first. Whole rows at a time, so the compiler vectorises the inner
 * loops; integer sums do not depend on the order, so this is still Pillow's
 * result exactly. */
#define VERTICAL_ROW_BODY                                                                                              \
    for (size_t i = 0; i < width; i++) acc[i] = 1 << (RESAMPLE_PRECISION_BITS - 1);                                  \
    for (int y = 0; y < taps; y++) {                                                                                   \
        const uint8_t *p = first + (size_t)y * width;                                                                  \
        int32_t ky = k[y];                                                                                             \
        for (size_t i = 0; i < width; i++) acc[i] += p[i] * ky;                                                        \
    }                                                                                                                  \
    for (size_t i = 0; i < width; i++) out[i] = clip8(acc[i]);

static void vertical_row(const uint8_t *first, size_t width, int taps, const int32_t *k, int32_t *acc, uint8_t *out) {
    VERTICAL_ROW_BODY
}

#ifdef INFERD_HAVE_SSSE3_PATH
/* The same loops compiled for AVX2 (eight lanes a step instead of four). */
__attribute__((target("avx2"))) static void vertical_row_avx2(const uint8_t *first, size_t width, int taps,
                                                               const int32_t *k, int32_t *acc, uint8_t *out) {
    VERTICAL_ROW_BODY
}
#endif

/* Resamples the image src is part of to (rw, rh) but produces only the
 * window of columns [x0, x1) and rows [y0, y1) of the result, into dst
 * (packed RGB). Like Pillow: horizontal pass first, over only the source
 * rows the vertical pass reads, clipping to 8 bits after each pass; an axis
 * whose size does not change is not resampled. Returns -1 when out of
 * memory, -2 when src does not hold every source pixel the window reads. */
static int resample_window(const resample_filter *f, const image_window *src, int rw, int rh, int x0, int x1,
                           int y0, int y1, uint8_t *dst) {
    int need_h = rw != src->full_width;
    int need_v = rh != src->full_height;
    int cols = x1 - x0, rows = y1 - y0;
    axis_weights hw = {0}, vw = {0};
    uint8_t *temp = NULL;
    int32_t *acc = NULL; /* one output row's sums in the vertical pass */
    int status = -1;

    int col_lo, col_hi, row_lo, row_hi;
    axis_source_span(f, src->full_width, rw, x0, cols, &col_lo, &col_hi);
    axis_source_span(f, src->full_height, rh, y0, rows, &row_lo, &row_hi);
    if (col_lo < src->x || col_hi > src->x + src->raster.width || row_lo < src->y ||
        row_hi > src->y + src->raster.height)
        return -2;

    if (need_h && axis_weights_build(f, src->full_width, rw, x0, cols, &hw) != 0) goto done;
    if (need_v && axis_weights_build(f, src->full_height, rh, y0, rows, &vw) != 0) goto done;

    int temp_rows = row_hi - row_lo; /* the source rows the vertical pass reads */
    size_t src_stride = (size_t)src->raster.width * 3;
    size_t temp_stride = (size_t)cols * 3;
    temp = malloc((size_t)temp_rows * temp_stride);
    acc = need_v ? malloc(temp_stride * sizeof(int32_t)) : NULL;
    if (!temp || (need_v && !acc)) goto done;

#ifdef INFERD_HAVE_SSSE3_PATH
    simd_weights sw = {0, NULL, NULL};
    uint8_t *run = NULL; /* the source run of one row, padded for 16-byte loads */
    size_t run_bytes = (size_t)(col_hi - col_lo) * 3;
    resample_simd level = simd_level();
    if (need_h && level != RESAMPLE_SCALAR && simd_weights_build(&hw, &sw) == 0) {
        /* Without the paired vectors the SSSE3 pass does the row. */
        if (level == RESAMPLE_AVX2 && simd_weights_pair(&hw, &sw) != 0) level = RESAMPLE_SSSE3;
        run = calloc(run_bytes + 6 * (size_t)sw.pairs + 16, 1);
        if (!run) {
            free(sw.coeffs);
            free(sw.coeffs2);
            sw.coeffs = NULL;
            sw.coeffs2 = NULL;
        }
    }
#endif
    for (int y = 0; y < temp_rows; y++) {
        const uint8_t *line = src->raster.pixels + (size_t)(row_lo + y - src->y) * src_stride;
        uint8_t *out = temp + (size_t)y * temp_stride;
        if (!need_h) {
            memcpy(out, line + (size_t)(x0 - src->x) * 3, temp_stride);
            continue;
        }
#ifdef INFERD_HAVE_SSSE3_PATH
        if (run) {
            memcpy(run, line + (size_t)(col_lo - src->x) * 3, run_bytes);
            if (sw.coeffs2)
                horizontal_row_avx2(run, col_lo, &hw, &sw, out);
            else
                horizontal_row_ssse3(run, col_lo, &hw, &sw, out);
            continue;
        }
#endif
        for (int i = 0; i < cols; i++) {
            int xmin = hw.bounds[2 * i], xn = hw.bounds[2 * i + 1];
            const int32_t *k = &hw.coeffs[(size_t)i * hw.ksize];
            const uint8_t *p = line + (size_t)(xmin - src->x) * 3;
            int32_t s0 = 1 << (RESAMPLE_PRECISION_BITS - 1), s1 = s0, s2 = s0;
            for (int x = 0; x < xn; x++) {
                s0 += p[3 * x] * k[x];
                s1 += p[3 * x + 1] * k[x];
                s2 += p[3 * x + 2] * k[x];
            }
            out[3 * i] = clip8(s0);
            out[3 * i + 1] = clip8(s1);
            out[3 * i + 2] = clip8(s2);
        }
    }

#ifdef INFERD_HAVE_SSSE3_PATH
    free(run);
    free(sw.coeffs);
    free(sw.coeffs2);
#endif
    for (int r = 0; r < rows; r++) {
        uint8_t *out = dst + (size_t)r * temp_stride;
        if (!need_v) {
            memcpy(out, temp + (size_t)r * temp_stride, temp_stride);
            continue;
        }
        const uint8_t *first = temp + (size_t)(vw.bounds[2 * r] - row_lo) * temp_stride;
        const int32_t *k = &vw.coeffs[(size_t)r * vw.ksize];
#ifdef INFERD_HAVE_SSSE3_PATH
        if (level == RESAMPLE_AVX2) {
            vertical_row_avx2(first, temp_stride, vw.bounds[2 * r + 1], k, acc, out);
            continue;
        }
#endif
        vertical_row(first, temp_stride, vw.bounds[2 * r + 1], k, acc, out);
    }
    status = 0;
done:
    axis_weights_free(&hw);
    axis_weights_free(&vw);
    free(temp);
    free(acc);
    return status;
}

static image_window whole_image(const image_rgb *img) {
    image_window w = {.raster = *img, .x = 0, .y = 0, .full_width = img->width, .full_height = img->height};
    return w;
}

int preprocess_resize_rgb(const image_rgb *in, int out_width, int out_height, preprocess_interpolation interpolation,
                          image_rgb *out, char *err, size_t errlen) {
    memset(out, 0, sizeof(*out));
    if (out_width <= 0 || out_height <= 0 || in->width <= 0 || in->height <= 0) {
        snprintf(err, errlen, "invalid resize %dx%d -> %dx%d", in->width, in->height, out_width, out_height);
        return -1;
    }
    image_window src = whole_image(in);
    out->pixels = malloc((size_t)out_width * (size_t)out_height * 3);
    if (!out->pixels || resample_window(filter_for(interpolation), &src, out_width, out_height, 0, out_width, 0, out_height, out->pixels) != 0) {
        free(out->pixels);
        out->pixels = NULL;
        snprintf(err, errlen, "out of memory resizing");
        return -1;
    }
    out->width = out_width;
    out->height = out_height;
    return 0;
}

/* The resized size and the part [x0,x1) x [y0,y1) of the crop window that
 * lies inside it (the rest is torchvision's zero padding). */
typedef struct {
    int rw, rh, ox, oy, x0, x1, y0, y1;
} crop_plan;

static int plan_crop(const preprocess_config *cfg, int width, int height, crop_plan *p) {
    if (cfg->resize_short > 0) {
        if (preprocess_resized_size(width, height, cfg->resize_short, &p->rw, &p->rh) != 0) return -1;
    } else { /* Resize([h, w]): that size, whatever the aspect ratio */
        p->rw = cfg->resize_width;
        p->rh = cfg->resize_height;
    }
    if (p->rw <= 0 || p->rh <= 0) return -1;
    int cw = cfg->crop_width, ch = cfg->crop_height;
    p->ox = preprocess_crop_offset(p->rw, cw);
    p->oy = preprocess_crop_offset(p->rh, ch);
    p->x0 = p->ox < 0 ? 0 : p->ox;
    p->x1 = p->ox + cw > p->rw ? p->rw : p->ox + cw;
    p->y0 = p->oy < 0 ? 0 : p->oy;
    p->y1 = p->oy + ch > p->rh ? p->rh : p->oy + ch;
    return 0;
}

int preprocess_source_rect(const preprocess *pp, int width, int height, image_rect *need, char *err, size_t errlen) {
    crop_plan p;
    if (width <= 0 || height <= 0 || plan_crop(&pp->cfg, width, height, &p) != 0) {
        snprintf(err, errlen, "image %dx%d is too elongated: resizing its short side to %d makes the long side "
                 "too large to process", width, height, pp->cfg.resize_short);
        return -1;
    }
    int lo, hi;
    axis_source_span(filter_for(pp->cfg.interpolation), width, p.rw, p.x0, p.x1 - p.x0, &lo, &hi);
    need->x = lo;
    need->width = hi - lo;
    axis_source_span(filter_for(pp->cfg.interpolation), height, p.rh, p.y0, p.y1 - p.y0, &lo, &hi);
    need->y = lo;
    need->height = hi - lo;
    return 0;
}

int preprocess_run_window(const preprocess *pp, const image_window *src, float *out, char *err, size_t errlen) {
    const preprocess_config *cfg = &pp->cfg;
    if (src->full_width <= 0 || src->full_height <= 0 || src->raster.width <= 0 || src->raster.height <= 0 ||
        !src->raster.pixels) {
        snprintf(err, errlen, "empty image");
        return -1;
    }
    crop_plan p;
    if (plan_crop(cfg, src->full_width, src->full_height, &p) != 0) {
        snprintf(err, errlen, "image %dx%d resizes to nothing", src->full_width, src->full_height);
        return -1;
    }
    int cw = cfg->crop_width, ch = cfg->crop_height;
    int cols = p.x1 - p.x0, rows = p.y1 - p.y0;

    uint8_t *window = malloc((size_t)cols * (size_t)rows * 3);
    int rc = window ? resample_window(filter_for(cfg->interpolation), src, p.rw, p.rh, p.x0, p.x1, p.y0, p.y1, window) : -1;
    if (rc != 0) {
        free(window);
        if (rc == -2)
            snprintf(err, errlen, "decoded part of the %dx%d image misses pixels the crop reads", src->full_width,
                     src->full_height);
        else
            snprintf(err, errlen, "out of memory preprocessing a %dx%d image", src->full_width, src->full_height);
        return -1;
    }

    size_t plane = (size_t)cw * (size_t)ch;
    int pad_left = p.x0 - p.ox, pad_top = p.y0 - p.oy;
    for (int c = 0; c < 3; c++) {
        float *dst = out + c * plane;
        const float *lut = pp->lut[c];
        if (cols != cw || rows != ch) {
            for (size_t i = 0; i < plane; i++) dst[i] = lut[0];
        }
        for (int r = 0; r < rows; r++) {
            const uint8_t *px = window + (size_t)r * cols * 3 + c;
            float *row = dst + (size_t)(r + pad_top) * cw + pad_left;
            for (int i = 0; i < cols; i++) row[i] = lut[px[3 * i]];
        }
    }
    free(window);
    return 0;
}

int preprocess_run(const preprocess *pp, const image_rgb *img, float *out, char *err, size_t errlen) {
    if (img->width <= 0 || img->height <= 0 || !img->pixels) {
        snprintf(err, errlen, "empty image");
        return -1;
    }
    image_window src = whole_image(img);
    return preprocess_run_window(pp, &src, out, err, errlen);
}
