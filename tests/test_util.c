/* unit_util: the allocator policy the server runs with. After
 * util_retain_freed_memory a 1 MB block comes from the heap (reused, not
 * page-faulted afresh); while util_map_large_blocks is on it gets a mapping
 * of its own when no free chunk holds it, which its free gives back whole
 * (a reloaded model's weights);
 * off restores the heap. glibc only: elsewhere the calls change nothing. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "check.h"
#include "util.h"

#ifdef __GLIBC__
static size_t mapped_blocks(void) { return mallinfo2().hblks; }

/* Whether a fresh block of size bytes got a mapping of its own. */
static int block_is_mapped(size_t size) {
    size_t before = mapped_blocks();
    char *p = malloc(size);
    if (!p) return -1;
    memset(p, 1, size);
    size_t during = mapped_blocks();
    free(p);
    size_t after = mapped_blocks();
    CHECK_MSG(after == before, "a freed block's mapping is gone (%zu -> %zu)", before, after);
    return during > before;
}
#endif

int main(void) {
#ifdef __GLIBC__
    util_retain_freed_memory();
    CHECK_EQ_INT(block_is_mapped(1 << 20), 0);
    CHECK_EQ_INT(block_is_mapped(40 << 20), 1); /* above 32 MB still mapped */
    util_map_large_blocks(1);
    util_release_free_memory(); /* a free chunk that holds the block is used first */
    CHECK_EQ_INT(block_is_mapped(1 << 20), 1);
    CHECK_EQ_INT(block_is_mapped(64 << 10), 1);
    CHECK_EQ_INT(block_is_mapped(16 << 10), 0); /* small blocks stay in the heap */
    util_map_large_blocks(0);
    CHECK_EQ_INT(block_is_mapped(1 << 20), 0);
#endif
    return check_summary();
}
