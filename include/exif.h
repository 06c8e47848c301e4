/* exif: reads the one EXIF field inferd uses, Orientation (tag 0x0112 of
 * IFD0), from an EXIF block as JPEG (APP1), PNG (eXIf) and WebP (EXIF) carry
 * it, and applies an orientation to an RGB raster exactly as
 * PIL.ImageOps.exif_transpose does. It does not find the block inside a
 * file: each format's decoder does that. */
#ifndef INFERD_EXIF_H
#define INFERD_EXIF_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* The Orientation value 1..8 in `exif` (a TIFF structure, optionally after
 * the "Exif\0\0" prefix), or 1 when absent, unreadable or out of range. */
int exif_orientation(const uint8_t *exif, size_t len);

/* 1 when `orientation` swaps width and height (5..8). */
int exif_orientation_swaps_axes(int orientation);

/* Replaces img by img transposed for `orientation` (2..8; 1 or anything else
 * leaves it as is), the transposition exif_transpose picks:
 * 2 mirror, 3 rotate 180, 4 flip, 5 transpose, 6 rotate 270 (clockwise 90),
 * 7 transverse, 8 rotate 90. Returns IMAGE_OK or IMAGE_ERR_NOMEM (img unchanged). */
image_status exif_apply_orientation(image_rgb *img, int orientation);

#endif
