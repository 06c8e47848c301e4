/* image_decoder: the one interface every image format's decoder implements,
 * and the table of them. A decoder owns its format's signature, its header
 * parsing and its pixels; it does not check size limits (image.c does that
 * between info() and decode(), so no pixel is decoded past the limit), it
 * does not orient, resize or normalise. Adding a format is one
 * src/decode_<format>.c that defines an image_decoder and one entry in
 * image_decoders[] (src/image.c). */
#ifndef INFERD_IMAGE_DECODER_H
#define INFERD_IMAGE_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

typedef struct {
    int width, height;  /* as stored, before any orientation */
    int orientation;    /* EXIF orientation 1..8 found in the file's metadata; 1 when absent */
} image_info;

typedef struct image_decoder {
    image_format format;
    const char *name; /* for messages: "JPEG", "PNG", "WebP", ... */
    /* 1 when the leading bytes carry this format's signature. Cheap: magic bytes only. */
    int (*sniff)(const uint8_t *data, size_t len);
    /* The header only: width, height, orientation. No pixel is decoded. */
    image_status (*info)(const uint8_t *data, size_t len, image_info *info, char *err, size_t errlen);
    /* Decodes to interleaved 8-bit RGB exactly as Pillow's
     * Image.open(...).convert('RGB'), at least the pixels of `need` (NULL: all);
     * a decoder that cannot decode a part decodes the whole image. On success
     * the caller owns out->raster.pixels (image_rgb_free). Must re-validate
     * the header itself: it never trusts what info() returned. */
    image_status (*decode)(const uint8_t *data, size_t len, const image_rect *need, image_window *out,
                           char *err, size_t errlen);
} image_decoder;

extern const image_decoder image_decoder_jpeg;
extern const image_decoder image_decoder_png;
extern const image_decoder image_decoder_gif;
extern const image_decoder image_decoder_bmp;
extern const image_decoder image_decoder_webp;
extern const image_decoder image_decoder_tiff;
extern const image_decoder image_decoder_pnm;
extern const image_decoder image_decoder_heif;

/* The decoder whose signature matches, or NULL. */
const image_decoder *image_decoder_find(const uint8_t *data, size_t len);

#endif
