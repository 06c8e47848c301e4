/* log: start-up/operational messages and the per-request access log, on
 * stderr, as plain text or one JSON object per line. One write per line so
 * that lines from different threads never interleave. */
#ifndef INFERD_LOG_H
#define INFERD_LOG_H

#include <stdint.h>

typedef enum { LOG_FORMAT_PLAIN = 0, LOG_FORMAT_JSON } log_format;

void log_set_format(log_format format);
log_format log_parse_format(const char *name);

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

typedef struct {
    const char *request_id;
    const char *method;
    const char *path;
    int status;
    uint64_t bytes_in;
    uint64_t bytes_out;
    double total_ms;
    double queue_ms;
    double model_ms;
    int images;
} log_access_entry;

void log_access(const log_access_entry *entry);

#endif
