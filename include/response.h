/* response: the JSON bodies inferd sends (results and errors), built with
 * cJSON so that every string is escaped. Returns malloc'd text the caller
 * frees with free(); NULL only when memory runs out. */
#ifndef INFERD_RESPONSE_H
#define INFERD_RESPONSE_H

#include "labels.h"
#include "predictions.h"

struct cJSON;

/* Prints root compactly into a plain malloc'd string (free() it) and deletes
 * root; NULL when root is NULL or memory runs out. */
char *response_print_and_delete(struct cJSON *root);

/* {"error":"<message>"} */
char *response_error_json(const char *message);

/* {"message":"<message>"} */
char *response_message_json(const char *message);

/* The original API's object: {"class_id":..,"class_name":..}; with topk > 0
 * also "predictions":[{"class_id","class_name","probability"},...]. */
char *response_result_json(const labels *l, const float *logits, int num_classes, int topk);

/* One image of a several-image request: its logits when status is 200,
 * else its HTTP status and error message. */
typedef struct {
    const float *logits;
    int status;
    const char *error;
} response_item;

/* Several images: an array with one entry per image, in order: the result
 * object, or {"error":..,"status":..} for an image that failed. */
char *response_results_json(const labels *l, const response_item *items, int count, int num_classes, int topk);

/* What /info says about the model being served and its reloads. */
typedef struct {
    const char *name, *arch, *weights;
    long long seed; /* -1: none */
    const char *precision;
    int input_size;
    int num_classes;
    const char *preprocessing; /* the values in force and their sources */
    double load_seconds, warm_seconds;
    int generation;
    long long reloads, failed_reloads;
} response_model_info;

/* GET /info: {"name":"inferd","version":..,"model":{"name","arch","weights","seed","precision","input_size",
 *             "num_classes","preprocessing","load_seconds","warm_seconds","generation","reloads",
 *             "failed_reloads"},"limits":{"max_body_bytes","max_pixels","max_images"}} */
char *response_info_json(const char *version, const response_model_info *model, long long max_body_bytes,
                         long long max_pixels, int max_images);

#endif
