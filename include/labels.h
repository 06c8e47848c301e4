/* labels: the ImageNet class index (imagenet_class_index.json, the format
 * {"0": ["n01440764", "tench"], ...}), loaded and validated once at start-up.
 * Maps a class index to its WordNet id and name; nothing else. */
#ifndef INFERD_LABELS_H
#define INFERD_LABELS_H

#include <stddef.h>

typedef struct labels labels;

/* Every key "0".."N-1" must be present exactly once, each value an array of
 * two non-empty strings; anything else is a start-up error naming the entry. */
int labels_load(const char *path, labels **out, char *err, size_t errlen);
int labels_parse(const char *json, size_t len, labels **out, char *err, size_t errlen);
void labels_free(labels *l);

int labels_count(const labels *l);
const char *labels_id(const labels *l, int index);   /* NULL when out of range */
const char *labels_name(const labels *l, int index); /* NULL when out of range */

#endif
