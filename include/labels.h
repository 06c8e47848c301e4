/* labels: the class index of the model: loaded and validated once per model
 * (load), mapping a class index to its class_id and class_name; nothing else.
 * Three formats:
 *   - ImageNet-style JSON {"0": ["n01440764", "tench"], ...}: class_id is the
 *     WordNet id, class_name the name;
 *   - a JSON list of names ["tench", ...]: class_id is the index ("0");
 *   - a text file, one label per line (UTF-8, CRLF accepted, no empty
 *     lines): class_id is the index, class_name the line.
 * Whether the count matches the model's outputs is the caller's check. */
#ifndef INFERD_LABELS_H
#define INFERD_LABELS_H

#include <stddef.h>

typedef struct labels labels;

typedef enum { LABELS_IMAGENET_JSON, LABELS_JSON_LIST, LABELS_TEXT } labels_format;

/* The format follows the content: JSON when the first non-blank byte is
 * '{' or '[', else text lines; a path ending in ".txt" is always text.
 * Errors name the file and the bad entry or line. */
int labels_load(const char *path, labels **out, char *err, size_t errlen);
/* JSON object (every key "0".."N-1" exactly once, each value an array of two
 * non-empty strings) or JSON list of non-empty strings. */
int labels_parse(const char *json, size_t len, labels **out, char *err, size_t errlen);
/* One label per line. */
int labels_parse_text(const char *text, size_t len, labels **out, char *err, size_t errlen);
/* labels_parse or labels_parse_text, by the first non-blank byte. */
int labels_parse_any(const char *data, size_t len, labels **out, char *err, size_t errlen);
void labels_free(labels *l);

int labels_count(const labels *l);
labels_format labels_get_format(const labels *l);
const char *labels_format_name(labels_format format); /* "imagenet-json", "json-list", "text" */
const char *labels_id(const labels *l, int index);   /* NULL when out of range */
const char *labels_name(const labels *l, int index); /* NULL when out of range */

#endif
