/* Fuzzes one format's decoder directly (FUZZ_DECODER names its
 * image_decoder): info(), then decode() when the header's size is within
 * the fuzzing limit, as image.c calls them. Going past sniff() lets mutated
 * signatures still reach the parser. One binary per decoder, so each gets
 * its own corpus and its own figures. */
#include <stdint.h>
#include <stdlib.h>

#include "image_decoder.h"

#ifndef FUZZ_DECODER
#error "build with -DFUZZ_DECODER=image_decoder_<format>"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const image_decoder *decoder = &FUZZ_DECODER;
    char err[256];
    decoder->sniff(data, size);
    image_info info = {0, 0, 1};
    if (decoder->info(data, size, &info, err, sizeof(err)) != IMAGE_OK) return 0;
    if (info.width <= 0 || info.height <= 0 || (uint64_t)info.width * (uint64_t)info.height > (4u << 20)) return 0;
    /* A window, as the pipeline asks, to reach any partial-decode path. */
    image_rect need = {info.width / 4, info.height / 4, info.width / 2 + 1, info.height / 2 + 1};
    image_window out = {{0, 0, NULL}, 0, 0, 0, 0};
    if (decoder->decode(data, size, &need, &out, err, sizeof(err)) == IMAGE_OK) free(out.raster.pixels);
    return 0;
}
