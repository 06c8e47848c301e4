/* kserve: the Open Inference Protocol (KServe v2 REST, with Triton's binary
 * tensor data, classification, statistics and model configuration
 * extensions) for inferd's one model. It owns the wire format: parsing an
 * infer request (the JSON header, and the binary section after it when
 * Inference-Header-Content-Length is given), checking every size against the
 * body, and shaping every v2 response body (metadata, ready, infer with JSON
 * or binary outputs, stats, config). It owns no HTTP, no routing, no model and
 * no counters: the v2 handler maps paths and hands items to the batcher. */
#ifndef INFERD_KSERVE_H
#define INFERD_KSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "labels.h"

/* The inputs a client may send. */
#define KSERVE_INPUT_IMAGE "image"   /* BYTES [N] or [N,1]: encoded image files */
#define KSERVE_INPUT_TENSOR "tensor" /* FP32 [N,3,H,W]: the preprocessed tensor */
#define KSERVE_OUTPUT_LOGITS "logits"
#define KSERVE_MAX_OUTPUTS 4

/* What the model accepts, for checking a request. */
typedef struct {
    int max_images; /* images plus tensors, over every input of one request */
    int channels, height, width;
} kserve_limits;

/* One model input in request order: an encoded image or a ready tensor of
 * channels*height*width floats; exactly one of image/tensor is set. */
typedef struct {
    uint8_t *image;
    size_t image_len;
    float *tensor;
} kserve_item;

typedef struct {
    char name[64];
    int classification; /* k > 0: the top-k "<logit>:<index>:<label>" strings; 0 = FP32 logits */
    int binary;         /* the data goes after the JSON header */
} kserve_output_request;

typedef struct {
    char id[128];             /* echoed when given */
    kserve_item *items;       /* every input's elements, concatenated in input order */
    int item_count;
    kserve_output_request outputs[KSERVE_MAX_OUTPUTS];
    int output_count;         /* at least 1: "logits" when the request names none */
} kserve_request;

/* Means "no Inference-Header-Content-Length": the whole body is JSON. */
#define KSERVE_JSON_ONLY SIZE_MAX

/* Parses an Inference-Header-Content-Length value (decimal digits only).
 * Returns 0, or -1 when it is not a number. */
int kserve_parse_header_length(const char *text, size_t *out);

/* Parses an infer request body. header_len is the JSON header's length in
 * body, or KSERVE_JSON_ONLY. Returns 0, or an HTTP status (400, 413, 500)
 * with err filled, naming the input at fault. On success the caller owns
 * out (kserve_request_free); on failure out is empty. */
int kserve_parse_infer(const uint8_t *body, size_t len, size_t header_len, const kserve_limits *limits,
                       kserve_request *out, char *err, size_t errlen);
void kserve_request_free(kserve_request *r);

/* What the v2 API says about the model. */
typedef struct {
    const char *name;     /* model_name */
    const char *version;  /* "1" */
    const char *platform; /* "pytorch_libtorch" */
    const labels *labels; /* for classification labels; may be NULL */
    int num_classes;
    int channels, height, width;
    const char *weights, *precision;
    /* configuration extension */
    int max_batch, batch_delay_us, queue_capacity, max_images, instances;
    int resize;                       /* Resize(n), or 0 with resize_height/width set */
    int resize_height, resize_width;
    const char *interpolation;        /* "bilinear" or "bicubic" */
    double mean[3], std[3];
} kserve_model;

/* Body builders: malloc'd JSON (free()), NULL only when memory runs out. */
char *kserve_server_metadata(const char *server_version);
char *kserve_model_metadata(const kserve_model *m);
char *kserve_model_ready(const kserve_model *m);
char *kserve_model_config(const kserve_model *m);

/* The statistics extension's numbers for one model (nanoseconds). */
typedef struct {
    uint64_t count, ns;
} kserve_duration;

#define KSERVE_STATS_MAX_BATCH 64
typedef struct {
    uint64_t last_inference_ms; /* ms since the epoch of the last infer request, 0 = none */
    uint64_t inference_count;   /* inputs inferred (batch elements) */
    uint64_t execution_count;   /* model executions (batches) */
    kserve_duration success, fail, queue, compute_input, compute_infer, compute_output;
    /* executions and forward time by batch size (index = size; 0 unused) */
    kserve_duration batch_infer[KSERVE_STATS_MAX_BATCH + 1];
} kserve_stats;

char *kserve_model_stats(const kserve_model *m, const kserve_stats *s);

/* An infer response: the JSON header, followed by the binary outputs when
 * header_len > 0 (the caller sends Inference-Header-Content-Length:
 * header_len); header_len 0 means the body is JSON alone. */
typedef struct {
    uint8_t *body;
    size_t len;
    size_t header_len;
} kserve_response;

/* logits: item_count rows of num_classes floats. Every item must have
 * succeeded (the caller answers an error otherwise). Returns 0, or -1 when
 * memory runs out. */
int kserve_infer_response(const kserve_request *r, const kserve_model *m, const float *const *logits,
                          kserve_response *out);
void kserve_response_free(kserve_response *resp);

#endif
