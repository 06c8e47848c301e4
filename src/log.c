#define _POSIX_C_SOURCE 200809L
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

static log_format current_format = LOG_FORMAT_PLAIN;

void log_set_format(log_format format) { current_format = format; }

log_format log_parse_format(const char *name) {
    return name && strcmp(name, "json") == 0 ? LOG_FORMAT_JSON : LOG_FORMAT_PLAIN;
}

static void timestamp(char *buf, size_t len) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void emit(const char *level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void emit(const char *level, const char *fmt, va_list ap) {
    char message[2048], ts[40];
    vsnprintf(message, sizeof(message), fmt, ap);
    timestamp(ts, sizeof(ts));
    if (current_format == LOG_FORMAT_JSON) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "time", ts);
        cJSON_AddStringToObject(o, "level", level);
        cJSON_AddStringToObject(o, "message", message);
        char *text = cJSON_PrintUnformatted(o);
        if (text) fprintf(stderr, "%s\n", text);
        cJSON_free(text);
        cJSON_Delete(o);
    } else {
        fprintf(stderr, "%s %-5s %s\n", ts, level, message);
    }
}

#define DEFINE_LOG(fn, level)                                                                                          \
    void fn(const char *fmt, ...) {                                                                                    \
        va_list ap;                                                                                                    \
        va_start(ap, fmt);                                                                                             \
        emit(level, fmt, ap);                                                                                          \
        va_end(ap);                                                                                                    \
    }
DEFINE_LOG(log_info, "info")
DEFINE_LOG(log_warn, "warn")
DEFINE_LOG(log_error, "error")

void log_access(const log_access_entry *e) {
    char ts[40];
    timestamp(ts, sizeof(ts));
    if (current_format == LOG_FORMAT_JSON) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "time", ts);
        cJSON_AddStringToObject(o, "level", "access");
        cJSON_AddStringToObject(o, "request_id", e->request_id ? e->request_id : "");
        cJSON_AddStringToObject(o, "method", e->method ? e->method : "");
        cJSON_AddStringToObject(o, "path", e->path ? e->path : "");
        cJSON_AddNumberToObject(o, "status", e->status);
        cJSON_AddNumberToObject(o, "bytes_in", (double)e->bytes_in);
        cJSON_AddNumberToObject(o, "bytes_out", (double)e->bytes_out);
        cJSON_AddNumberToObject(o, "images", e->images);
        cJSON_AddNumberToObject(o, "total_ms", e->total_ms);
        cJSON_AddNumberToObject(o, "queue_ms", e->queue_ms);
        cJSON_AddNumberToObject(o, "model_ms", e->model_ms);
        char *text = cJSON_PrintUnformatted(o);
        if (text) fprintf(stderr, "%s\n", text);
        cJSON_free(text);
        cJSON_Delete(o);
    } else {
        /* The path is client text: print it bounded and without control bytes. */
        char path[256];
        size_t i = 0;
        for (const char *p = e->path ? e->path : ""; *p && i + 1 < sizeof(path); p++)
            path[i++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
        path[i] = '\0';
        fprintf(stderr, "%s access %s %s %s %d in=%llu out=%llu images=%d total_ms=%.2f queue_ms=%.2f model_ms=%.2f\n",
                ts, e->request_id ? e->request_id : "-", e->method ? e->method : "-", path, e->status,
                (unsigned long long)e->bytes_in, (unsigned long long)e->bytes_out, e->images, e->total_ms,
                e->queue_ms, e->model_ms);
    }
}
