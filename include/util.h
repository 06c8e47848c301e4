/* util: the few libc gaps every module needs (strdup is not C11, whole-file
 * reads with a size cap, monotonic time). No policy lives here. */
#ifndef INFERD_UTIL_H
#define INFERD_UTIL_H

#include <stddef.h>
#include <stdint.h>

char *util_strdup(const char *s);

/* Reads a whole file (NUL-terminated for convenience) of at most max_bytes. */
int util_read_file(const char *path, size_t max_bytes, char **data, size_t *len, char *err, size_t errlen);

/* Parses a whole JSON document: unlike cJSON_ParseWithLength, anything but
 * white space after the value is an error. Returns NULL on failure. */
struct cJSON *util_parse_json_document(const char *json, size_t len);

/* Monotonic clock in nanoseconds. */
uint64_t util_now_ns(void);

#endif
