/* decode_webp: WebP through libwebp, the library Pillow uses. Pillow 9.4
 * opens every WebP, still or animated, through WebPAnimDecoder in RGBA and
 * shows the first frame; doing the same here is what makes the pixels
 * identical (lossy, lossless, alpha, animation). Alpha is dropped, not
 * composited, as convert('RGB') drops it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>
#include <webp/demux.h>

#include "exif.h"
#include "image_decoder.h"

static int webp_sniff(const uint8_t *data, size_t len) {
    return len >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0;
}

static const char *vp8_status_text(VP8StatusCode code) {
    switch (code) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "image file is truncated";
    default: return "unknown error";
    }
}

static image_status webp_info(const uint8_t *data, size_t len, image_info *info, char *err, size_t errlen) {
    WebPBitstreamFeatures features;
    VP8StatusCode code = WebPGetFeatures(data, len, &features);
    if (code != VP8_STATUS_OK) {
        if (err && errlen) snprintf(err, errlen, "invalid WebP: %s", vp8_status_text(code));
        return IMAGE_ERR_CORRUPT;
    }
    /* For an extended (VP8X) file these are the canvas size, which is what
     * WebPAnimDecoder allocates. */
    info->width = features.width;
    info->height = features.height;
    info->orientation = 1;
    WebPData whole = {data, len};
    WebPDemuxer *demux = WebPDemux(&whole);
    if (demux) {
        WebPChunkIterator chunk;
        if (WebPDemuxGetChunk(demux, "EXIF", 1, &chunk)) {
            info->orientation = exif_orientation(chunk.chunk.bytes, chunk.chunk.size);
            WebPDemuxReleaseChunkIterator(&chunk);
        }
        WebPDemuxDelete(demux);
    }
    return IMAGE_OK;
}

static image_status webp_decode(const uint8_t *data, size_t len, const image_rect *need, image_window *out,
                                char *err, size_t errlen) {
    (void)need;
    WebPAnimDecoderOptions options;
    if (!WebPAnimDecoderOptionsInit(&options)) {
        if (err && errlen) snprintf(err, errlen, "WebP: library version mismatch");
        return IMAGE_ERR_NOMEM;
    }
    options.color_mode = MODE_RGBA;
    options.use_threads = 0;
    WebPData whole = {data, len};
    WebPAnimDecoder *decoder = WebPAnimDecoderNew(&whole, &options);
    if (!decoder) {
        /* WebPAnimDecoderNew only says no; the bitstream check says why. */
        WebPBitstreamFeatures features;
        VP8StatusCode code = WebPGetFeatures(data, len, &features);
        if (err && errlen)
            snprintf(err, errlen, "invalid WebP: %s",
                     code != VP8_STATUS_OK ? vp8_status_text(code) : "corrupt or truncated container");
        return IMAGE_ERR_CORRUPT;
    }
    WebPAnimInfo anim;
    uint8_t *rgba = NULL;
    int timestamp;
    if (!WebPAnimDecoderGetInfo(decoder, &anim) || anim.canvas_width == 0 || anim.canvas_height == 0 ||
        !WebPAnimDecoderGetNext(decoder, &rgba, &timestamp) || !rgba) {
        WebPAnimDecoderDelete(decoder);
        if (err && errlen) snprintf(err, errlen, "invalid WebP: the first frame does not decode");
        return IMAGE_ERR_CORRUPT;
    }
    size_t width = anim.canvas_width, height = anim.canvas_height, count = width * height;
    uint8_t *rgb = malloc(count * 3);
    if (!rgb) {
        WebPAnimDecoderDelete(decoder);
        if (err && errlen) snprintf(err, errlen, "out of memory decoding WebP");
        return IMAGE_ERR_NOMEM;
    }
    for (size_t i = 0; i < count; i++) memcpy(rgb + 3 * i, rgba + 4 * i, 3);
    WebPAnimDecoderDelete(decoder); /* owns rgba */
    out->raster.width = out->full_width = (int)width;
    out->raster.height = out->full_height = (int)height;
    out->raster.pixels = rgb;
    out->x = out->y = 0;
    return IMAGE_OK;
}

const image_decoder image_decoder_webp = {
    .format = IMAGE_FORMAT_WEBP,
    .name = "WebP",
    .sniff = webp_sniff,
    .info = webp_info,
    .decode = webp_decode,
};
