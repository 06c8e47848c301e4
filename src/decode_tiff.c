/* decode_tiff: TIFF through libtiff, as Pillow reads compressed TIFFs. The
 * first page (IFD0) only. libtiff decompresses each strip or tile (any codec
 * it was built with: none, LZW, Deflate, PackBits, JPEG, CCITT, ...) into
 * the stored sample layout, and this file converts that layout to RGB the way
 * Pillow's TiffImagePlugin (its OPEN_INFO modes) and convert('RGB') do:
 * gray and bilevel replicated (MinIsWhite inverted), 16-bit gray clipped to
 * 255 (mode I;16), 16-bit colour narrowed to its high byte, palettes looked
 * up by the high byte of each colormap entry, premultiplied alpha divided
 * out, alpha dropped, CMYK by Pillow's formula, YCbCr JPEG converted by
 * libjpeg (JPEGCOLORMODE_RGB). Layouts Pillow does not open, or that inferd
 * does not convert (float and signed samples, 12- and 32-bit), are refused
 * as unsupported.
 * Orientation: Pillow 9.4's TIFF loader itself transposes the image by the
 * Orientation tag (TiffImageFile.load_end), so Image.open(...).convert('RGB')
 * of a TIFF is already oriented whatever exif_orientation says; this decoder
 * does the same, and reports orientation 1 so that image.c does not apply it
 * a second time. (ImageOps.exif_transpose on such a TIFF transposes it again
 * in Pillow 9.4, a Pillow bug inferd does not reproduce.) */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "exif.h"
#include "image_decoder.h"

#define TIFF_ACCEPTED                                                                                    \
    "accepted: 1/2/4/8/16-bit gray, 8-bit gray+alpha, 1/2/4/8-bit palette, 8/16-bit RGB and RGBA, 8-bit " \
    "CMYK, JPEG YCbCr; unsigned integer samples"

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) snprintf(err, errlen, "%s", msg);
}

static int tiff_sniff(const uint8_t *data, size_t len) {
    return len >= 4 && (memcmp(data, "II*\0", 4) == 0 || memcmp(data, "MM\0*", 4) == 0);
}

/* ---- libtiff reading from memory, with errors kept per handle ---------- */

typedef struct {
    const uint8_t *data;
    size_t len, pos;
    char message[200]; /* libtiff's first error */
} tiff_source;

static tmsize_t source_read(thandle_t handle, void *buf, tmsize_t size) {
    tiff_source *src = handle;
    if (size <= 0) return 0;
    size_t n = (size_t)size, left = src->pos < src->len ? src->len - src->pos : 0;
    if (n > left) n = left;
    memcpy(buf, src->data + src->pos, n);
    src->pos += n;
    return (tmsize_t)n;
}

static tmsize_t source_write(thandle_t handle, void *buf, tmsize_t size) {
    (void)handle, (void)buf, (void)size;
    return -1;
}

static toff_t source_seek(thandle_t handle, toff_t offset, int whence) {
    tiff_source *src = handle;
    uint64_t base = whence == SEEK_CUR ? src->pos : whence == SEEK_END ? src->len : 0;
    if (offset > UINT64_MAX - base) return (toff_t)-1;
    uint64_t to = base + offset;
    if (to > SIZE_MAX) return (toff_t)-1;
    src->pos = (size_t)to; /* past the end is allowed; reads there return 0 bytes */
    return to;
}

static int source_close(thandle_t handle) {
    (void)handle;
    return 0;
}

static toff_t source_size(thandle_t handle) { return ((tiff_source *)handle)->len; }

static int source_map(thandle_t handle, void **base, toff_t *size) {
    (void)handle, (void)base, (void)size;
    return 0; /* not mapped: libtiff reads through source_read */
}

static void source_unmap(thandle_t handle, void *base, toff_t size) { (void)handle, (void)base, (void)size; }

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 4, 0)))
#endif
static int on_tiff_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif, (void)module;
    tiff_source *src = user;
    if (!src->message[0]) vsnprintf(src->message, sizeof(src->message), fmt, ap);
    return 1; /* handled: libtiff's global handler would print to stderr */
}

static int on_tiff_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
    return 1; /* a client must not be able to flood the log */
}

static TIFF *tiff_open(tiff_source *src) {
    TIFFOpenOptions *options = TIFFOpenOptionsAlloc();
    if (!options) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(options, on_tiff_error, src);
    TIFFOpenOptionsSetWarningHandlerExtR(options, on_tiff_warning, src);
    /* No single allocation beyond what a valid file of inferd's largest
     * images needs; image.c's pixel limit guards the total. */
    TIFFOpenOptionsSetMaxSingleMemAlloc(options, (tmsize_t)1 << 30);
    /* 'm': never memory-map (there is no file). */
    TIFF *tif = TIFFClientOpenExt("inferd", "rm", src, source_read, source_write, source_seek, source_close,
                                  source_size, source_map, source_unmap, options);
    TIFFOpenOptionsFree(options);
    return tif;
}

static image_status corrupt(const tiff_source *src, const char *what, char *err, size_t errlen) {
    if (err && errlen) {
        if (src->message[0])
            snprintf(err, errlen, "invalid TIFF: %s (%s)", what, src->message);
        else
            snprintf(err, errlen, "invalid TIFF: %s", what);
    }
    return IMAGE_ERR_CORRUPT;
}

/* ---- the sample layout, and whether inferd converts it ----------------- */

typedef enum { KIND_GRAY, KIND_GRAY_ALPHA, KIND_PALETTE, KIND_RGB, KIND_CMYK } pixel_kind;

typedef struct {
    uint32_t width, height;
    uint16_t bits, samples, photometric, orientation;
    pixel_kind kind;
    int invert;         /* MinIsWhite gray */
    int premultiplied;  /* RGB with associated alpha (ExtraSamples 1) */
    int separate_planes; /* PlanarConfiguration 2: one plane per sample */
    uint16_t *map[3];   /* palette: libtiff's colormap, valid while the handle is open */
} tiff_layout;

static image_status unsupported(const char *what, char *err, size_t errlen) {
    if (err && errlen) snprintf(err, errlen, "unsupported TIFF variant: %s (" TIFF_ACCEPTED ")", what);
    return IMAGE_ERR_UNSUPPORTED;
}

/* Reads IFD0's tags into layout; sets JPEGCOLORMODE for YCbCr JPEG, so call
 * it before reading any pixel. The combinations accepted are those of
 * Pillow's OPEN_INFO table that convert('RGB') handles. */
static image_status tiff_read_layout(TIFF *tif, const tiff_source *src, tiff_layout *layout, char *err,
                                     size_t errlen) {
    memset(layout, 0, sizeof(*layout));
    uint32_t width = 0, height = 0;
    if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &width) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &height))
        return corrupt(src, "no image size", err, errlen);
    if (width == 0 || height == 0 || width > INT_MAX || height > INT_MAX)
        return corrupt(src, "bad image size", err, errlen);
    layout->width = width;
    layout->height = height;
    uint16_t orientation = 1;
    layout->orientation = TIFFGetField(tif, TIFFTAG_ORIENTATION, &orientation) ? orientation : 1;

    uint16_t bits = 1, samples = 1, photometric = 0, planar = PLANARCONFIG_CONTIG, format = SAMPLEFORMAT_UINT;
    uint16_t compression = COMPRESSION_NONE, extra_count = 0;
    uint16_t *extra = NULL;
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &samples);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
    TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, &extra_count, &extra);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric)) photometric = PHOTOMETRIC_MINISWHITE;

    if (!TIFFIsCODECConfigured(compression)) return unsupported("compression scheme", err, errlen);
    if (format != SAMPLEFORMAT_UINT) return unsupported("signed or floating-point samples", err, errlen);
    layout->separate_planes = planar == PLANARCONFIG_SEPARATE && samples > 1;
    if (layout->separate_planes && bits != 8 && bits != 16)
        return unsupported("separate sample planes below 8 bits", err, errlen);
    if (layout->separate_planes && compression == COMPRESSION_JPEG)
        return unsupported("separate sample planes with JPEG", err, errlen);
    if (extra_count > samples) return corrupt(src, "more extra samples than samples", err, errlen);
    uint16_t colour = (uint16_t)(samples - extra_count);
    uint16_t first_extra = extra_count ? extra[0] : 0;
    for (uint16_t i = 1; i < extra_count; i++)
        if (extra[i] != EXTRASAMPLE_UNSPECIFIED) return unsupported("several alpha channels", err, errlen);

    switch (photometric) {
    case PHOTOMETRIC_MINISWHITE:
    case PHOTOMETRIC_MINISBLACK:
        if (samples == 1 && (bits == 1 || bits == 2 || bits == 4 || bits == 8 || bits == 16)) {
            /* Pillow reads 16-bit MinIsWhite as I;16 without inverting, and
             * has no big-endian MinIsWhite 16-bit mode at all. */
            if (bits == 16 && photometric == PHOTOMETRIC_MINISWHITE && TIFFIsBigEndian(tif))
                return unsupported("big-endian 16-bit MinIsWhite", err, errlen);
            layout->kind = KIND_GRAY;
            layout->invert = photometric == PHOTOMETRIC_MINISWHITE && bits <= 8;
        } else if (samples == 2 && extra_count == 1 && first_extra == EXTRASAMPLE_UNASSALPHA && bits == 8 &&
                   photometric == PHOTOMETRIC_MINISBLACK) {
            layout->kind = KIND_GRAY_ALPHA;
        } else {
            return unsupported("gray layout", err, errlen);
        }
        break;
    case PHOTOMETRIC_PALETTE:
        if (!((samples == 1 && (bits == 1 || bits == 2 || bits == 4 || bits == 8)) ||
              (samples == 2 && bits == 8 && extra_count == 1 && first_extra == EXTRASAMPLE_UNASSALPHA)))
            return unsupported("palette layout", err, errlen);
        if (!TIFFGetField(tif, TIFFTAG_COLORMAP, &layout->map[0], &layout->map[1], &layout->map[2]))
            return corrupt(src, "palette image without a colormap", err, errlen);
        layout->kind = KIND_PALETTE;
        break;
    case PHOTOMETRIC_RGB:
        if (colour != 3 && !(colour == 4 && extra_count == 0 && samples == 4))
            return unsupported("RGB layout", err, errlen);
        if (bits != 8 && bits != 16) return unsupported("RGB bit depth", err, errlen);
        if (samples > 6) return unsupported("RGB layout", err, errlen);
        /* 16-bit associated alpha: Pillow's RGBa;16 narrowing is not reproduced. */
        if (first_extra == EXTRASAMPLE_ASSOCALPHA && bits == 16)
            return unsupported("16-bit premultiplied alpha", err, errlen);
        layout->kind = KIND_RGB;
        layout->premultiplied = extra_count && first_extra == EXTRASAMPLE_ASSOCALPHA;
        break;
    case PHOTOMETRIC_SEPARATED: {
        uint16_t inkset = INKSET_CMYK;
        TIFFGetFieldDefaulted(tif, TIFFTAG_INKSET, &inkset);
        if (inkset != INKSET_CMYK || bits != 8 || colour != 4 || samples > 6 || first_extra != 0)
            return unsupported("CMYK layout", err, errlen);
        layout->kind = KIND_CMYK;
        break;
    }
    case PHOTOMETRIC_YCBCR:
        /* Pillow decodes YCbCr JPEG through libtiff with libjpeg's own
         * conversion; other YCbCr (subsampled raw) is not reproduced. */
        if (compression != COMPRESSION_JPEG || bits != 8 || samples != 3)
            return unsupported("YCbCr without JPEG compression", err, errlen);
        if (!TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB))
            return corrupt(src, "cannot set up the JPEG codec", err, errlen);
        layout->kind = KIND_RGB;
        break;
    default: return unsupported("photometric interpretation", err, errlen);
    }
    layout->bits = bits;
    layout->samples = samples;
    layout->photometric = photometric;
    return IMAGE_OK;
}

static image_status tiff_info(const uint8_t *data, size_t len, image_info *info, char *err, size_t errlen) {
    tiff_source src = {data, len, 0, {0}};
    TIFF *tif = tiff_open(&src);
    if (!tif) return corrupt(&src, "cannot read the header", err, errlen);
    tiff_layout layout;
    image_status status = tiff_read_layout(tif, &src, &layout, err, errlen);
    if (status == IMAGE_OK) {
        int swap = exif_orientation_swaps_axes(layout.orientation);
        info->width = (int)(swap ? layout.height : layout.width);
        info->height = (int)(swap ? layout.width : layout.height);
        info->orientation = 1; /* already applied by tiff_decode, as Pillow's loader does */
    }
    TIFFClose(tif);
    return status;
}

/* ---- pixels -------------------------------------------------------------- */

/* Sample `index` of a row of `bits`-bit samples (1, 2, 4, 8 or 16; 16-bit
 * ones are in host order, libtiff swaps them). */
static unsigned sample_at(const uint8_t *row, size_t index, unsigned bits) {
    switch (bits) {
    case 8: return row[index];
    case 16: {
        uint16_t v;
        memcpy(&v, row + index * 2, 2);
        return v;
    }
    default: {
        size_t bit = index * bits;
        return (row[bit / 8] >> (8 - bits - bit % 8)) & ((1u << bits) - 1);
    }
    }
}

/* PIL's cmyk2rgb, per channel, in its fixed-point form. */
static uint8_t pil_cmyk_channel(int c, int k) {
    int nk = 255 - k;
    int tmp = c * nk + 128;
    int v = nk - (((tmp >> 8) + tmp) >> 8);
    return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

static void convert_row(const tiff_layout *l, const uint8_t *row, uint8_t *dst) {
    size_t n = l->samples;
    for (size_t x = 0; x < l->width; x++, dst += 3) {
        size_t at = x * n;
        switch (l->kind) {
        case KIND_GRAY:
        case KIND_GRAY_ALPHA: {
            unsigned v = sample_at(row, at, l->bits), g;
            if (l->bits == 16)
                g = v > 255 ? 255 : v; /* I;16 -> RGB clips */
            else
                g = v * (255u / ((1u << l->bits) - 1)); /* 1: x255, 2: x85, 4: x17 */
            if (l->invert) g = 255 - g;
            dst[0] = dst[1] = dst[2] = (uint8_t)g;
            break;
        }
        case KIND_PALETTE: {
            unsigned i = sample_at(row, at, l->bits);
            for (int c = 0; c < 3; c++) dst[c] = (uint8_t)(l->map[c][i] >> 8);
            break;
        }
        case KIND_RGB:
            if (l->bits == 16) {
                for (int c = 0; c < 3; c++) dst[c] = (uint8_t)(sample_at(row, at + (size_t)c, 16) >> 8);
            } else if (l->premultiplied) {
                unsigned a = row[at + 3];
                for (int c = 0; c < 3; c++) {
                    unsigned v = a == 0 ? 0 : a == 255 ? row[at + (size_t)c] : row[at + (size_t)c] * 255u / a;
                    dst[c] = (uint8_t)(v > 255 ? 255 : v);
                }
            } else {
                memcpy(dst, row + at, 3);
            }
            break;
        case KIND_CMYK: {
            int k = row[at + 3];
            for (int c = 0; c < 3; c++) dst[c] = pil_cmyk_channel(row[at + (size_t)c], k);
            break;
        }
        }
    }
}

/* The largest tile side accepted for an image side of n pixels. */
static uint64_t tile_room(uint32_t n) {
    uint64_t rounded = ((uint64_t)n + 15) / 16 * 16;
    return rounded > 1024 ? rounded : 1024;
}

/* Decompresses one sample plane (separate planes) or all samples
 * (contiguous: plane 0, per_pixel = samples) into rows of row_bytes each. */
static image_status read_plane(TIFF *tif, const tiff_source *src, const tiff_layout *l, uint16_t plane,
                               size_t per_pixel, uint8_t *raw, size_t row_bytes, char *err, size_t errlen) {
    if (TIFFIsTiled(tif)) {
        uint32_t tile_w = 0, tile_h = 0;
        if (!TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tile_w) || !TIFFGetField(tif, TIFFTAG_TILELENGTH, &tile_h) ||
            tile_w == 0 || tile_h == 0 || (uint64_t)tile_w * per_pixel * l->bits % 8 != 0)
            return corrupt(src, "bad tile size", err, errlen);
        /* Its buffer is allocated before any data is read: a few bytes of
         * header must not ask for gigabytes. A tile may overhang the image
         * (tile sizes are multiples of 16), a small image's up to the
         * usual 1024 x 1024, never more. */
        if (tile_w > tile_room(l->width) || tile_h > tile_room(l->height))
            return corrupt(src, "a tile larger than the image", err, errlen);
        tmsize_t tile_size = TIFFTileSize(tif), tile_row = TIFFTileRowSize(tif);
        if (tile_size <= 0 || tile_row <= 0 || (uint64_t)tile_row * tile_h > (uint64_t)tile_size ||
            (uint64_t)tile_row * 8 < (uint64_t)tile_w * per_pixel * l->bits)
            return corrupt(src, "bad tile size", err, errlen);
        uint8_t *tile = malloc((size_t)tile_size);
        if (!tile) {
            set_err(err, errlen, "out of memory decoding TIFF");
            return IMAGE_ERR_NOMEM;
        }
        for (uint32_t y0 = 0; y0 < l->height; y0 += tile_h) {
            for (uint32_t x0 = 0; x0 < l->width; x0 += tile_w) {
                if (TIFFReadEncodedTile(tif, TIFFComputeTile(tif, x0, y0, 0, plane), tile, tile_size) != tile_size) {
                    free(tile);
                    return corrupt(src, "a tile does not decode (truncated or corrupt)", err, errlen);
                }
                uint32_t cols = l->width - x0 < tile_w ? l->width - x0 : tile_w;
                uint32_t rows = l->height - y0 < tile_h ? l->height - y0 : tile_h;
                size_t offset = (size_t)x0 * per_pixel * l->bits / 8;
                size_t bytes = ((size_t)cols * per_pixel * l->bits + 7) / 8;
                for (uint32_t r = 0; r < rows; r++)
                    memcpy(raw + (size_t)(y0 + r) * row_bytes + offset, tile + (size_t)r * (size_t)tile_row, bytes);
            }
        }
        free(tile);
        return IMAGE_OK;
    }
    uint32_t rows_per_strip = l->height;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rows_per_strip);
    if (rows_per_strip == 0 || rows_per_strip > l->height) rows_per_strip = l->height;
    for (uint32_t y0 = 0; y0 < l->height; y0 += rows_per_strip) {
        uint32_t rows = l->height - y0 < rows_per_strip ? l->height - y0 : rows_per_strip;
        tmsize_t want = (tmsize_t)((size_t)rows * row_bytes);
        uint32_t strip = TIFFComputeStrip(tif, y0, plane);
        if (strip >= TIFFNumberOfStrips(tif)) return corrupt(src, "fewer strips than rows need", err, errlen);
        if (TIFFReadEncodedStrip(tif, strip, raw + (size_t)y0 * row_bytes, want) != want)
            return corrupt(src, "a strip does not decode (truncated or corrupt)", err, errlen);
    }
    return IMAGE_OK;
}

/* Decompresses the whole image into interleaved rows of row_bytes each;
 * separate planes (8- and 16-bit only) are interleaved here. */
static image_status read_samples(TIFF *tif, const tiff_source *src, const tiff_layout *l, uint8_t *raw,
                                 size_t row_bytes, char *err, size_t errlen) {
    if (!l->separate_planes) return read_plane(tif, src, l, 0, l->samples, raw, row_bytes, err, errlen);
    size_t bytes = l->bits / 8, width = l->width, height = l->height, plane_row = width * bytes;
    uint8_t *plane = malloc(plane_row * height);
    if (!plane) {
        set_err(err, errlen, "out of memory decoding TIFF");
        return IMAGE_ERR_NOMEM;
    }
    for (uint16_t p = 0; p < l->samples; p++) {
        image_status status = read_plane(tif, src, l, p, 1, plane, plane_row, err, errlen);
        if (status != IMAGE_OK) {
            free(plane);
            return status;
        }
        for (size_t y = 0; y < height; y++)
            for (size_t x = 0; x < width; x++)
                memcpy(raw + y * row_bytes + (x * l->samples + p) * bytes, plane + y * plane_row + x * bytes, bytes);
    }
    free(plane);
    return IMAGE_OK;
}

static image_status tiff_decode(const uint8_t *data, size_t len, const image_rect *need, image_window *out,
                                char *err, size_t errlen) {
    (void)need;
    tiff_source src = {data, len, 0, {0}};
    TIFF *tif = tiff_open(&src);
    if (!tif) return corrupt(&src, "cannot read the header", err, errlen);
    tiff_layout layout;
    uint8_t *raw = NULL, *rgb = NULL;
    image_status status = tiff_read_layout(tif, &src, &layout, err, errlen);
    if (status != IMAGE_OK) goto done;
    /* After JPEGCOLORMODE is set, so a YCbCr JPEG's rows are RGB. */
    tmsize_t scanline = TIFFScanlineSize(tif);
    size_t row_bytes = ((size_t)layout.width * layout.samples * layout.bits + 7) / 8;
    size_t stored_row = layout.separate_planes ? (size_t)layout.width * layout.bits / 8 : row_bytes;
    if (scanline <= 0 || (size_t)scanline != stored_row) {
        status = corrupt(&src, "unexpected row size", err, errlen);
        goto done;
    }
    size_t width = layout.width, height = layout.height;
    if (height > SIZE_MAX / row_bytes || width * height > SIZE_MAX / 3) {
        status = IMAGE_ERR_TOO_LARGE;
        set_err(err, errlen, "TIFF dimensions overflow");
        goto done;
    }
    raw = malloc(row_bytes * height);
    rgb = malloc(width * height * 3);
    if (!raw || !rgb) {
        status = IMAGE_ERR_NOMEM;
        set_err(err, errlen, "out of memory decoding TIFF");
        goto done;
    }
    status = read_samples(tif, &src, &layout, raw, row_bytes, err, errlen);
    if (status != IMAGE_OK) goto done;
    for (size_t y = 0; y < height; y++) convert_row(&layout, raw + y * row_bytes, rgb + y * width * 3);
    image_rgb oriented = {(int)width, (int)height, rgb};
    if (exif_apply_orientation(&oriented, layout.orientation) != IMAGE_OK) {
        status = IMAGE_ERR_NOMEM;
        set_err(err, errlen, "out of memory orienting TIFF");
        goto done;
    }
    out->raster = oriented;
    out->full_width = oriented.width;
    out->full_height = oriented.height;
    out->x = out->y = 0;
    rgb = NULL;
done:
    TIFFClose(tif);
    free(raw);
    free(rgb);
    return status;
}

const image_decoder image_decoder_tiff = {
    .format = IMAGE_FORMAT_TIFF,
    .name = "TIFF",
    .sniff = tiff_sniff,
    .info = tiff_info,
    .decode = tiff_decode,
};
