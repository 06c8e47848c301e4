/* preprocess_bench: the server's per-image CPU work before the model, alone.
 * Reads one image file into memory once, then runs pipeline_prepare (decode +
 * Resize + CenterCrop + ToTensor + Normalize, preprocess_config_default) on
 * those bytes N times and reports the median, mean, min and p90 per image.
 * It also times the two halves separately (image_decode_rgb, preprocess_run)
 * to show where the time goes.
 *   preprocess_bench --image FILE [--iterations N] [--warmup W] [--json]
 * Single-threaded, like one HTTP handler thread of the server. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "pipeline.h"
#include "preprocess.h"
#include "util.h"

typedef struct {
    double median, mean, min, p90;
} stats;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts ms in place. */
static stats summarise(double *ms, int n) {
    stats s = {0, 0, 0, 0};
    if (n <= 0) return s;
    qsort(ms, (size_t)n, sizeof(double), cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += ms[i];
    s.mean = sum / n;
    s.min = ms[0];
    s.median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2.0;
    int k = (int)(0.9 * (n - 1) + 0.5);
    s.p90 = ms[k];
    return s;
}

static double elapsed_ms(uint64_t start) { return (double)(util_now_ns() - start) / 1e6; }

int main(int argc, char **argv) {
    util_retain_freed_memory(); /* as the server does: measured with the same allocator policy */
    const char *path = NULL;
    int iterations = 200, warmup = 5, json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--image") && i + 1 < argc) path = argv[++i];
        else if (!strcmp(argv[i], "--iterations") && i + 1 < argc) iterations = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json")) json = 1;
        else {
            fprintf(stderr, "usage: %s --image FILE [--iterations N] [--warmup W] [--json]\n", argv[0]);
            return 2;
        }
    }
    if (!path || iterations < 1 || iterations > 1000000 || warmup < 0) {
        fprintf(stderr, "preprocess_bench: --image is required; --iterations 1..1000000\n");
        return 2;
    }

    char err[512];
    char *data = NULL;
    size_t len = 0;
    if (util_read_file(path, (size_t)1 << 30, &data, &len, err, sizeof(err)) != 0) {
        fprintf(stderr, "preprocess_bench: %s: %s\n", path, err);
        return 1;
    }
    preprocess_config cfg;
    preprocess_config_default(&cfg);
    preprocess *pp = NULL;
    if (preprocess_create(&cfg, &pp, err, sizeof(err)) != 0) {
        fprintf(stderr, "preprocess_bench: %s\n", err);
        free(data);
        return 1;
    }
    image_limits limits = {.max_pixels = 50000000}; /* the server's default max_pixels */
    float *tensor = malloc(sizeof(float) * preprocess_tensor_len(pp));
    double *total = malloc(sizeof(double) * (size_t)iterations);
    double *decode = malloc(sizeof(double) * (size_t)iterations);
    double *resample = malloc(sizeof(double) * (size_t)iterations);
    int status = 0, width = 0, height = 0;
    if (!tensor || !total || !decode || !resample) {
        fprintf(stderr, "preprocess_bench: out of memory\n");
        status = 1;
        goto done;
    }
    const uint8_t *bytes = (const uint8_t *)data;

    /* The whole pipeline, as the server's handler threads run it. */
    for (int i = -warmup; i < iterations; i++) {
        uint64_t t = util_now_ns();
        image_status st = pipeline_prepare(pp, &limits, bytes, len, tensor, err, sizeof(err));
        double ms = elapsed_ms(t);
        if (st != IMAGE_OK) {
            fprintf(stderr, "preprocess_bench: %s: %s\n", path, err);
            status = 1;
            goto done;
        }
        if (i >= 0) total[i] = ms;
    }
    /* The two halves separately. */
    for (int i = -warmup; i < iterations; i++) {
        image_rgb img;
        uint64_t t = util_now_ns();
        if (image_decode_rgb(bytes, len, &limits, &img, err, sizeof(err)) != IMAGE_OK) {
            fprintf(stderr, "preprocess_bench: %s: %s\n", path, err);
            status = 1;
            goto done;
        }
        double d = elapsed_ms(t);
        t = util_now_ns();
        int rc = preprocess_run(pp, &img, tensor, err, sizeof(err));
        double r = elapsed_ms(t);
        width = img.width;
        height = img.height;
        image_rgb_free(&img);
        if (rc != 0) {
            fprintf(stderr, "preprocess_bench: %s\n", err);
            status = 1;
            goto done;
        }
        if (i >= 0) {
            decode[i] = d;
            resample[i] = r;
        }
    }

    stats s = summarise(total, iterations), sd = summarise(decode, iterations), sr = summarise(resample, iterations);
    if (json) {
        printf("{\"bytes\":%zu,\"width\":%d,\"height\":%d,\"iterations\":%d,"
               "\"median_ms\":%.4f,\"mean_ms\":%.4f,\"min_ms\":%.4f,\"p90_ms\":%.4f,"
               "\"decode_median_ms\":%.4f,\"preprocess_median_ms\":%.4f}\n",
               len, width, height, iterations, s.median, s.mean, s.min, s.p90, sd.median, sr.median);
    } else {
        printf("# %s: %zu bytes, %dx%d, %d iterations (after %d warm-up)\n", path, len, width, height, iterations,
               warmup);
        printf("%-30s %10s %10s %10s %10s\n", "step", "median ms", "mean ms", "min ms", "p90 ms");
        printf("%-30s %10.3f %10.3f %10.3f %10.3f\n", "pipeline_prepare (all)", s.median, s.mean, s.min, s.p90);
        printf("%-30s %10.3f %10.3f %10.3f %10.3f\n", "  image_decode_rgb", sd.median, sd.mean, sd.min, sd.p90);
        printf("%-30s %10.3f %10.3f %10.3f %10.3f\n", "  preprocess_run", sr.median, sr.mean, sr.min, sr.p90);
    }

done:
    free(resample);
    free(decode);
    free(total);
    free(tensor);
    preprocess_free(pp);
    free(data);
    return status;
}
