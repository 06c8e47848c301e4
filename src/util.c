#define _GNU_SOURCE /* syscall(SYS_gettid): a thread's own priority */
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <cJSON.h>

char *util_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *copy = malloc(n);
    if (copy) memcpy(copy, s, n);
    return copy;
}

int util_read_file(const char *path, size_t max_bytes, char **data, size_t *len, char *err, size_t errlen) {
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s", strerror(errno));
        return -1;
    }
    size_t cap = 64 * 1024, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (n < cap) break;
        if (cap >= max_bytes) {
            if (fgetc(f) == EOF) break;
            snprintf(err, errlen, "file larger than %zu bytes", max_bytes);
            free(buf);
            fclose(f);
            return -1;
        }
        size_t next = cap * 2 > max_bytes ? max_bytes : cap * 2;
        char *grown = realloc(buf, next + 1);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap = next;
    }
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        fclose(f);
        return -1;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "read error");
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

uint64_t util_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct cJSON *util_parse_json_document(const char *json, size_t len) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) return NULL;
    for (const char *p = end; p && p < json + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r' && *p != '\0') {
            cJSON_Delete(root);
            return NULL;
        }
    }
    return root;
}

/* Serialises the mallopt changes: util_release_thread_heap lowers the
 * thresholds for a moment and restores what is in force. */
static pthread_mutex_t malloc_policy_lock = PTHREAD_MUTEX_INITIALIZER;
static int retaining_freed_memory, mapping_large_blocks;

#ifdef __GLIBC__
enum {
    GLIBC_DEFAULT_THRESHOLD = 128 * 1024,   /* mmap and trim, before glibc's dynamic threshold moves */
    RETAINED_MMAP_THRESHOLD = 32 * 1024 * 1024, /* glibc's maximum on 64-bit */
    RETAINED_TRIM_THRESHOLD = 64 * 1024 * 1024,
    LARGE_BLOCK = 64 * 1024, /* util_map_large_blocks; also glibc's FASTBIN_CONSOLIDATION_THRESHOLD */
};

static int mmap_threshold_in_force(void) {
    return mapping_large_blocks ? LARGE_BLOCK : retaining_freed_memory ? RETAINED_MMAP_THRESHOLD
                                                                        : GLIBC_DEFAULT_THRESHOLD;
}
#endif

void util_retain_freed_memory(void) {
    pthread_mutex_lock(&malloc_policy_lock);
    retaining_freed_memory = 1;
#ifdef __GLIBC__
    mallopt(M_MMAP_THRESHOLD, mmap_threshold_in_force());
    mallopt(M_TRIM_THRESHOLD, RETAINED_TRIM_THRESHOLD);
#endif
    pthread_mutex_unlock(&malloc_policy_lock);
}

void util_map_large_blocks(int on) {
#ifdef __GLIBC__
    pthread_mutex_lock(&malloc_policy_lock);
    mapping_large_blocks = on;
    mallopt(M_MMAP_THRESHOLD, mmap_threshold_in_force());
    pthread_mutex_unlock(&malloc_policy_lock);
#else
    (void)on;
#endif
}

void util_release_thread_heap(void) {
#ifdef __GLIBC__
    /* glibc shrinks a thread arena's top in free(), for a freed chunk of
     * 64 KB or more (FASTBIN_CONSOLIDATION_THRESHOLD), when the top is
     * over M_TRIM_THRESHOLD: so free such a chunk here, with the threshold
     * at glibc's default and the chunk kept off mmap. Other threads that
     * free a large chunk meanwhile trim their tops too: harmless. */
    pthread_mutex_lock(&malloc_policy_lock);
    mallopt(M_TRIM_THRESHOLD, GLIBC_DEFAULT_THRESHOLD);
    mallopt(M_MMAP_THRESHOLD, RETAINED_MMAP_THRESHOLD);
    volatile char *block = malloc(LARGE_BLOCK);
    if (block) {
        block[0] = 1; /* a malloc/free pair with no use may be elided */
        free((void *)block);
    }
    mallopt(M_MMAP_THRESHOLD, mmap_threshold_in_force());
    if (retaining_freed_memory) mallopt(M_TRIM_THRESHOLD, RETAINED_TRIM_THRESHOLD);
    pthread_mutex_unlock(&malloc_policy_lock);
#endif
    util_release_free_memory();
}

void util_release_free_memory(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

void util_lower_this_thread_priority(int nice) {
    if (nice <= 0) return;
    id_t tid = (id_t)syscall(SYS_gettid);
    errno = 0;
    int nice_now = getpriority(PRIO_PROCESS, tid);
    if (nice_now == -1 && errno != 0) return;
    int target = nice_now + nice;
    setpriority(PRIO_PROCESS, tid, target > 19 ? 19 : target);
}
