/* Fuzzes the Open Inference Protocol infer parser (kserve_parse_infer): the
 * JSON header and the binary tensor section after it, where every size comes
 * from the client. The first 4 bytes of an input are the
 * Inference-Header-Content-Length (little-endian; 0xffffffff = none), the
 * rest is the body. An accepted request is also answered (binary and JSON
 * outputs, classification) so that the response builder sees what the
 * parser lets through. Any crash, leak, overflow or UB is a finding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kserve.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { CLASSES = 10 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    uint32_t raw = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    size_t header_len = raw == UINT32_MAX ? KSERVE_JSON_ONLY : (size_t)raw;
    /* A copy of exactly the body, so that ASan sees any read past it. */
    size_t len = size - 4;
    uint8_t *body = malloc(len ? len : 1);
    if (!body) return 0;
    memcpy(body, data + 4, len);
    /* Tensors of 3x4x4 keep valid FP32 inputs small enough to be found. */
    const kserve_limits limits = {8, 3, 4, 4};
    kserve_request r;
    char err[256];
    if (kserve_parse_infer(body, len, header_len, &limits, &r, err, sizeof(err)) == 0) {
        static float rows[8][CLASSES];
        const float *logits[8];
        for (int i = 0; i < 8; i++) {
            for (int c = 0; c < CLASSES; c++) rows[i][c] = (float)((i * 7 + c * 3) % 11) - 5.0f;
            logits[i] = rows[i];
        }
        kserve_model m;
        memset(&m, 0, sizeof(m));
        m.name = "fuzz";
        m.version = "1";
        m.platform = "pytorch_libtorch";
        m.num_classes = CLASSES;
        m.channels = 3;
        m.height = m.width = 4;
        kserve_response resp;
        if (r.item_count <= 8 && kserve_infer_response(&r, &m, logits, &resp) == 0) kserve_response_free(&resp);
        kserve_request_free(&r);
    }
    free(body);
    return 0;
}
