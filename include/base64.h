/* base64: strict standard-alphabet decoding (RFC 4648, padding optional,
 * no whitespace), for image bytes carried in JSON (KServe v2 BYTES). */
#ifndef INFERD_BASE64_H
#define INFERD_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Bytes needed to decode len characters (an upper bound). */
size_t base64_decoded_max(size_t len);

/* Decodes text into out (room for base64_decoded_max(len)); returns the
 * decoded length, or -1 when text is not valid base64. */
long long base64_decode(const char *text, size_t len, uint8_t *out);

#endif
