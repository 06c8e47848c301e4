/* kserve: the JSON shapes of the KServe v2 / Open Inference Protocol REST API
 * for inferd's one model: parsing an infer request (BYTES input holding
 * base64 image bytes, the classification output parameter) and building the
 * metadata and infer responses. No HTTP and no model here. */
#ifndef INFERD_KSERVE_H
#define INFERD_KSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "labels.h"

#define KSERVE_MODEL_NAME "densenet121"

typedef struct {
    uint8_t *data;
    size_t len;
} kserve_image;

typedef struct {
    char id[128];           /* echoed when given */
    char output_name[64];   /* requested output name (default "classification" or "logits") */
    int classification;     /* top-k via the classification extension; 0 = raw logits */
    kserve_image *images;
    int image_count;
} kserve_request;

/* Returns 0, or an HTTP status (400/413) with err filled. */
int kserve_parse_infer(const char *json, size_t len, int max_images, kserve_request *out, char *err,
                       size_t errlen);
void kserve_request_free(kserve_request *r);

/* GET /v2 */
char *kserve_server_metadata(const char *version);
/* GET /v2/models/<name> */
char *kserve_model_metadata(int input_size, int num_classes, const char *weights, const char *precision);

/* The infer response; logits are image_count x num_classes. Every image
 * must have succeeded (the caller answers an error otherwise). */
char *kserve_infer_response(const kserve_request *r, const labels *l, const float *const *logits, int num_classes);

#endif
