/* preprocess: RGB raster -> normalised float32 CHW tensor, bit-exact with
 * torchvision's Resize(short or [h, w], bilinear or bicubic) +
 * CenterCrop(h, w) + ToTensor() + Normalize(mean, std) on a PIL image. Owns
 * the Pillow-exact antialiased resampler (one implementation taking a filter:
 * Pillow's bilinear and its a = -0.5 bicubic), torchvision's size and crop
 * rules, and the normalisation table. Decoding is image's job; batching is
 * the batcher's; where the values come from (model file, config) is
 * model_meta's and config's. */
#ifndef INFERD_PREPROCESS_H
#define INFERD_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* PIL's resampling filters torchvision weights are trained with. */
typedef enum { PREPROCESS_BILINEAR = 0, PREPROCESS_BICUBIC = 1 } preprocess_interpolation;

typedef struct {
    int resize_short;  /* Resize(int): the shorter side becomes this; 0 when resize_width/height are used */
    int resize_width;  /* Resize([h, w]) (only when resize_short is 0): exactly this size */
    int resize_height;
    preprocess_interpolation interpolation;
    int crop_width;
    int crop_height;
    float mean[3];
    float std[3];
} preprocess_config;

typedef struct preprocess preprocess;

/* torchvision defaults: Resize(255) bilinear, CenterCrop(224), ImageNet mean/std. */
void preprocess_config_default(preprocess_config *cfg);

/* "bilinear" / "bicubic" (torchvision's InterpolationMode values). */
const char *preprocess_interpolation_name(preprocess_interpolation interpolation);
/* Returns 0 and fills *out for "bilinear" or "bicubic", else -1. */
int preprocess_interpolation_parse(const char *name, preprocess_interpolation *out);

int preprocess_create(const preprocess_config *cfg, preprocess **out, char *err, size_t errlen);
void preprocess_free(preprocess *pp);

/* Floats in one output tensor: 3 * crop_height * crop_width. */
size_t preprocess_tensor_len(const preprocess *pp);

/* Writes the [3, crop_height, crop_width] tensor for img into out.
 * Returns 0, or -1 with err filled (out of memory, absurd sizes). */
int preprocess_run(const preprocess *pp, const image_rgb *img, float *out, char *err, size_t errlen);

/* The source pixels preprocess_run reads from a width x height image: decode
 * at least this much (image_decode_window). Returns -1 with err filled for
 * sizes it cannot process (a long side that would overflow once resized). */
int preprocess_source_rect(const preprocess *pp, int width, int height, image_rect *need, char *err, size_t errlen);

/* preprocess_run on part of an image; fails (-1, err) when src lacks pixels
 * the crop reads. */
int preprocess_run_window(const preprocess *pp, const image_window *src, float *out, char *err, size_t errlen);

/* torchvision's Resize(int) output size: the short side becomes `target`,
 * the long side int(target * long / short). Returns -1 (sizes 0) when the
 * long side would not fit an int. */
int preprocess_resized_size(int width, int height, int target, int *out_width, int *out_height);

/* CenterCrop's offset of the crop window in a resized axis of length `size`;
 * negative when torchvision pads (crop larger than the image). */
int preprocess_crop_offset(int size, int crop);

/* Pillow's ImagingResample with the given filter on a whole RGB image
 * (used by tests to check the resampler on its own). Caller frees out. */
int preprocess_resize_rgb(const image_rgb *in, int out_width, int out_height, preprocess_interpolation interpolation,
                          image_rgb *out, char *err, size_t errlen);

#endif
