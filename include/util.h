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

/* Makes malloc keep freed blocks (up to 64 MB per arena) for reuse instead
 * of returning them to the kernel at every free (glibc: fixed mmap and trim
 * thresholds). A decode allocates a few MB (libjpeg's coefficient buffer,
 * the raster) and frees it, a forward pass tens of MB of activations; by
 * default each then page-faults fresh memory: ~2 ms of a 7 ms decode, and
 * 30 -> 24 images/s for the model. Blocks over 32 MB (huge images) are
 * still mapped and unmapped on their own. Call once, before threads start. */
void util_retain_freed_memory(void);

/* Hands memory malloc holds free back to the kernel (glibc: malloc_trim).
 * For after one-off peaks such as model loading; a no-op elsewhere. */
void util_release_free_memory(void);

/* While on, blocks of 64 KB and more that no free chunk of the heap holds
 * get mappings of their own (glibc: M_MMAP_THRESHOLD), so that they go back
 * to the kernel, whole, when freed;
 * off restores util_retain_freed_memory's threshold (or glibc's default if
 * that was never called). For loading a model: its weights live as long as
 * the model, and when a reload frees them they leave no holes in the heap
 * that a few small live blocks pin; likewise a reload's warm-up forwards.
 * Process-wide while on: other threads' large blocks are mapped too. */
void util_map_large_blocks(int on);

/* Also gives back the free memory at the top of the calling thread's own
 * malloc arena, which util_release_free_memory leaves (glibc trims a thread
 * arena's top only in a free() of that thread, and only above the 64 MB
 * util_retain_freed_memory sets). For a model worker once the model it ran
 * is gone: the new model's activations then start from an empty arena, as
 * in a fresh process, instead of spreading over the old model's larger
 * peak. Costs page faults on the thread's next large allocations. */
void util_release_thread_heap(void);

/* Lowers the calling thread's scheduling priority by nice steps (capped at
 * 19). On Linux the priority is per thread, so the rest of the process
 * keeps its own. Best effort: a failure leaves the priority as it was. */
void util_lower_this_thread_priority(int nice);

#endif
