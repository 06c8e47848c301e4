/* test_labels: labels.h — labels_parse accepts an object whose keys are
 * "0".."N-1", each once, each value ["<wordnet id>", "<name>"] of two
 * non-empty strings, or a list of non-empty names, and rejects everything
 * else naming the entry; text label files (one per line, UTF-8, no empty
 * lines); the format chosen by content or ".txt"; labels_id/name bounds.
 * With argv[1] (the real imagenet_class_index.json) it also checks the 1000
 * ImageNet classes, skipping that part when the file does not exist. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "labels.h"

/* Parses text; returns the result code, fills *out and err. */
static int parse(const char *json, labels **out, char *err, size_t errlen) {
    err[0] = '\0';
    return labels_parse(json, strlen(json), out, err, errlen);
}

static void test_valid(void) {
    char err[512];
    labels *l = (labels *)&err; /* must be reset to NULL or a real object */
    /* Keys out of order: the index comes from the key, not the position. */
    const char *json = "{\"2\": [\"n03\", \"third\"], \"0\": [\"n01\", \"first\"], \"1\": [\"n02099601\", "
                       "\"golden_retriever\"]}";
    if (!CHECK_MSG(parse(json, &l, err, sizeof(err)) == 0, "valid index rejected: %s", err)) return;
    if (!CHECK_NOT_NULL(l)) return;
    CHECK_EQ_INT(labels_count(l), 3);
    CHECK_STR(labels_id(l, 0), "n01");
    CHECK_STR(labels_name(l, 0), "first");
    CHECK_STR(labels_id(l, 1), "n02099601");
    CHECK_STR(labels_name(l, 1), "golden_retriever");
    CHECK_STR(labels_id(l, 2), "n03");
    CHECK_STR(labels_name(l, 2), "third");
    /* Out of range: NULL, never a neighbour. */
    CHECK_NULL(labels_id(l, 3));
    CHECK_NULL(labels_name(l, 3));
    CHECK_NULL(labels_id(l, -1));
    CHECK_NULL(labels_name(l, -1));
    CHECK_NULL(labels_id(l, 1000));
    CHECK_NULL(labels_name(l, -2147483647 - 1));
    labels_free(l);
    labels_free(NULL); /* allowed */

    /* One class; strings with escapes and UTF-8 come back decoded. */
    l = NULL;
    CHECK_EQ_INT(parse("{\"0\":[\"n1\",\"caf\\u00e9 \\\"x\\\"\"]}", &l, err, sizeof(err)), 0);
    if (CHECK_NOT_NULL(l)) {
        CHECK_EQ_INT(labels_count(l), 1);
        CHECK_STR(labels_name(l, 0), "caf\xc3\xa9 \"x\"");
        labels_free(l);
    }

    /* len is honoured: bytes after len are not part of the document. */
    const char *padded = "{\"0\":[\"a\",\"b\"]}!!!!";
    l = NULL;
    CHECK_EQ_INT(labels_parse(padded, strlen(padded) - 4, &l, err, sizeof(err)), 0);
    labels_free(l);
}

/* Each of these must be refused with *out NULL and an error naming `names`. */
static void expect_reject(const char *json, const char *names, int line) {
    char err[512];
    labels *l = (labels *)&err;
    int rc = parse(json, &l, err, sizeof(err));
    if (!check_record(rc == -1, __FILE__, line, "accepted: %s", json)) {
        if (rc == 0) labels_free(l);
        return;
    }
    check_record(l == NULL, __FILE__, line, "*out not NULL after rejecting %s", json);
    if (names)
        check_record(strstr(err, names) != NULL, __FILE__, line, "error for %s does not name %s: \"%s\"", json,
                     names, err);
    else
        check_record(err[0] != '\0', __FILE__, line, "no error message for %s", json);
}

static void test_invalid(void) {
    /* Missing index: 3 entries but "1" absent. */
    expect_reject("{\"0\":[\"a\",\"x\"],\"2\":[\"b\",\"y\"],\"3\":[\"c\",\"z\"]}", "\"3\"", __LINE__);
    expect_reject("{\"0\":[\"a\",\"x\"],\"2\":[\"b\",\"y\"]}", "\"2\"", __LINE__);
    expect_reject("{\"1\":[\"a\",\"x\"]}", "\"1\"", __LINE__);
    /* Duplicate key: cJSON keeps both members, so the count includes the
     * duplicate and one index stays missing; it must still be refused. */
    expect_reject("{\"0\":[\"a\",\"x\"],\"1\":[\"b\",\"y\"],\"1\":[\"c\",\"z\"]}", "\"1\"", __LINE__);
    expect_reject("{\"0\":[\"a\",\"x\"],\"0\":[\"b\",\"y\"]}", "\"0\"", __LINE__);
    /* Keys must be canonical decimal integers. */
    expect_reject("{\"0\":[\"a\",\"x\"],\"01\":[\"b\",\"y\"]}", "\"01\"", __LINE__);
    expect_reject("{\"00\":[\"a\",\"x\"]}", "\"00\"", __LINE__);
    expect_reject("{\"0\":[\"a\",\"x\"],\"-1\":[\"b\",\"y\"]}", "\"-1\"", __LINE__);
    expect_reject("{\"0\":[\"a\",\"x\"],\"1.0\":[\"b\",\"y\"]}", "\"1.0\"", __LINE__);
    expect_reject("{\"0\":[\"a\",\"x\"],\"one\":[\"b\",\"y\"]}", "\"one\"", __LINE__);
    expect_reject("{\"0\":[\"a\",\"x\"],\"\":[\"b\",\"y\"]}", NULL, __LINE__);
    expect_reject("{\"0\":[\"a\",\"x\"],\"0x1\":[\"b\",\"y\"]}", "\"0x1\"", __LINE__);
    expect_reject("{\"0\":[\"a\",\"x\"],\"1 \":[\"b\",\"y\"]}", "\"1 \"", __LINE__);
    expect_reject("{\"0\":[\"a\",\"x\"],\"99999999999999999999\":[\"b\",\"y\"]}", "99999999999999999999", __LINE__);
    /* Forms strtol accepts but that are not "0".."N-1" (see the report). */
    expect_reject("{\"0\":[\"a\",\"x\"],\"+1\":[\"b\",\"y\"]}", "\"+1\"", __LINE__);
    expect_reject("{\"0\":[\"a\",\"x\"],\" 1\":[\"b\",\"y\"]}", "\" 1\"", __LINE__);
    expect_reject("{\"-0\":[\"a\",\"x\"],\"1\":[\"b\",\"y\"]}", "\"-0\"", __LINE__);
    /* Non-array entries. */
    expect_reject("{\"0\":\"n01440764\"}", "\"0\"", __LINE__);
    expect_reject("{\"0\":{\"id\":\"n01440764\",\"name\":\"tench\"}}", "\"0\"", __LINE__);
    expect_reject("{\"0\":null}", "\"0\"", __LINE__);
    expect_reject("{\"0\":[\"a\",\"x\"],\"1\":42}", "\"1\"", __LINE__);
    /* Wrong arity or element types. */
    expect_reject("{\"0\":[\"n01440764\"]}", "\"0\"", __LINE__);
    expect_reject("{\"0\":[]}", "\"0\"", __LINE__);
    expect_reject("{\"0\":[\"n01440764\",\"tench\",\"extra\"]}", "\"0\"", __LINE__);
    expect_reject("{\"0\":[\"n01440764\",5]}", "\"0\"", __LINE__);
    expect_reject("{\"0\":[5,\"tench\"]}", "\"0\"", __LINE__);
    expect_reject("{\"0\":[\"n01440764\",null]}", "\"0\"", __LINE__);
    expect_reject("{\"0\":[[\"n01440764\"],\"tench\"]}", "\"0\"", __LINE__);
    /* Empty strings. */
    expect_reject("{\"0\":[\"\",\"tench\"]}", "\"0\"", __LINE__);
    expect_reject("{\"0\":[\"n01440764\",\"\"]}", "\"0\"", __LINE__);
    expect_reject("{\"0\":[\"a\",\"x\"],\"1\":[\"\",\"\"]}", "\"1\"", __LINE__);
    /* Root not an object, or empty. */
    expect_reject("[[\"n01440764\",\"tench\"]]", NULL, __LINE__);
    expect_reject("\"tench\"", NULL, __LINE__);
    expect_reject("null", NULL, __LINE__);
    expect_reject("42", NULL, __LINE__);
    expect_reject("{}", NULL, __LINE__);
    /* Invalid JSON. */
    expect_reject("", NULL, __LINE__);
    expect_reject("{\"0\":[\"n01440764\",\"tench\"]", NULL, __LINE__);
    expect_reject("{\"0\":[\"n01440764\",\"tench\"],}", NULL, __LINE__);
    expect_reject("{0:[\"n01440764\",\"tench\"]}", NULL, __LINE__);
    expect_reject("{'0':['n01440764','tench']}", NULL, __LINE__);
    /* Not one JSON document: bytes after the object (see the report). */
    expect_reject("{\"0\":[\"n01440764\",\"tench\"]} junk", NULL, __LINE__);
    expect_reject("{\"0\":[\"n01440764\",\"tench\"]}}", NULL, __LINE__);
}

/* A JSON list of names and text files: class_id is the index. */
static void test_list_and_text(void) {
    char err[512];
    labels *l = NULL;
    CHECK_EQ_INT(parse(" [\"cat\", \"dog\", \"caf\\u00e9\"]\n", &l, err, sizeof(err)), 0);
    if (CHECK_NOT_NULL(l)) {
        CHECK_EQ_INT(labels_count(l), 3);
        CHECK_EQ_INT(labels_get_format(l), LABELS_JSON_LIST);
        CHECK_STR(labels_id(l, 0), "0");
        CHECK_STR(labels_name(l, 0), "cat");
        CHECK_STR(labels_id(l, 2), "2");
        CHECK_STR(labels_name(l, 2), "caf\xc3\xa9");
        CHECK_NULL(labels_name(l, 3));
        labels_free(l);
    }
    expect_reject("[]", "empty", __LINE__);
    expect_reject("[\"a\", \"\"]", "[1]", __LINE__);
    expect_reject("[\"a\", 3]", "[1]", __LINE__);
    expect_reject("[\"a\", null, \"c\"]", "[1]", __LINE__);
    expect_reject("[\"a\", [\"b\"]]", "[1]", __LINE__);

    /* Twelve lines, CRLF, a BOM, no final newline. */
    const char *twelve = "\xEF\xBB\xBF" "apple\r\nbanana\ncherry pie\nd\ne\nf\ng\nh\ni\nj\nk\nl\xc3\xa9";
    l = NULL;
    CHECK_EQ_INT(labels_parse_text(twelve, strlen(twelve), &l, err, sizeof(err)), 0);
    if (CHECK_NOT_NULL(l)) {
        CHECK_EQ_INT(labels_count(l), 12);
        CHECK_EQ_INT(labels_get_format(l), LABELS_TEXT);
        CHECK_STR(labels_id(l, 0), "0");
        CHECK_STR(labels_name(l, 0), "apple");
        CHECK_STR(labels_name(l, 2), "cherry pie");
        CHECK_STR(labels_id(l, 11), "11");
        CHECK_STR(labels_name(l, 11), "l\xc3\xa9");
        labels_free(l);
    }
    /* A final newline does not add a class; any other empty line is an error. */
    static const struct {
        const char *text;
        int count;          /* -1: refused */
        const char *names; /* text the error must contain */
    } cases[] = {
        {"a\nb\n", 2, NULL},
        {"a\nb", 2, NULL},
        {"one label", 1, NULL},
        {"a\n\nb\n", -1, "line 2"},
        {"a\nb\n\n", -1, "line 3"},
        {"\n", -1, "line 1"},
        {"", -1, "no lines"},
        {"a\r\n\r\n", -1, "line 2"},
        {"a\nb\xff\n", -1, "line 2"},
        {"a\n\xc0\xaf\n", -1, "line 2"},      /* overlong '/' */
        {"a\n\xed\xa0\x80\n", -1, "line 2"},  /* a UTF-16 surrogate */
        {"a\n\xe2\x82\n", -1, "line 2"},      /* truncated sequence */
        {"a\nb\rc\n", -1, "line 2"},          /* a lone CR inside a line */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        l = (labels *)&err;
        err[0] = '\0';
        int rc = labels_parse_text(cases[i].text, strlen(cases[i].text), &l, err, sizeof(err));
        if (cases[i].count < 0) {
            CHECK_MSG(rc == -1 && l == NULL, "text case %zu accepted", i);
            CHECK_CONTAINS(err, cases[i].names);
        } else if (CHECK_MSG(rc == 0, "text case %zu: %s", i, err)) {
            CHECK_EQ_INT(labels_count(l), cases[i].count);
            labels_free(l);
        }
    }
    /* A NUL inside a line (length-delimited input). */
    l = (labels *)&err;
    CHECK_EQ_INT(labels_parse_text("a\nb\0c\n", 6, &l, err, sizeof(err)), -1);
    CHECK_NULL(l);
    CHECK_CONTAINS(err, "line 2");

    /* labels_parse_any: JSON by its first non-blank byte, else text. */
    l = NULL;
    CHECK_EQ_INT(labels_parse_any("\n  {\"0\":[\"n1\",\"x\"]}", 19, &l, err, sizeof(err)), 0);
    if (CHECK_NOT_NULL(l)) {
        CHECK_EQ_INT(labels_get_format(l), LABELS_IMAGENET_JSON);
        CHECK_STR(labels_id(l, 0), "n1");
        labels_free(l);
    }
    l = NULL;
    CHECK_EQ_INT(labels_parse_any("x\ny\n", 4, &l, err, sizeof(err)), 0);
    if (CHECK_NOT_NULL(l)) {
        CHECK_EQ_INT(labels_get_format(l), LABELS_TEXT);
        labels_free(l);
    }
    /* Broken JSON stays a JSON error, not 1 text label. */
    l = (labels *)&err;
    CHECK_EQ_INT(labels_parse_any("{\"0\":[\"n1\",\"x\"]", 15, &l, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, "JSON");
    CHECK_STR(labels_format_name(LABELS_TEXT), "text");
    CHECK_STR(labels_format_name(LABELS_JSON_LIST), "json-list");
    CHECK_STR(labels_format_name(LABELS_IMAGENET_JSON), "imagenet-json");
}

/* labels_load picks the format from the content, or text for ".txt". */
static void test_load_formats(void) {
    char err[512], dir[] = "/tmp/inferd-labels-XXXXXX";
    if (!CHECK_NOT_NULL(mkdtemp(dir))) return;
    char path[600];
    static const struct {
        const char *name, *content;
        int count;
        labels_format format;
    } files[] = {
        {"classes.json", "{\"0\":[\"n1\",\"a\"],\"1\":[\"n2\",\"b\"]}", 2, LABELS_IMAGENET_JSON},
        {"names.json", "[\"a\",\"b\",\"c\"]", 3, LABELS_JSON_LIST},
        {"labels", "a\nb\nc\nd\n", 4, LABELS_TEXT},
        {"brackets.txt", "[not json]\n{nor this}\n", 2, LABELS_TEXT},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
        FILE *f = fopen(path, "wb");
        if (!CHECK_NOT_NULL(f)) continue;
        fputs(files[i].content, f);
        fclose(f);
        labels *l = NULL;
        if (CHECK_MSG(labels_load(path, &l, err, sizeof(err)) == 0, "%s: %s", path, err)) {
            CHECK_EQ_INT(labels_count(l), files[i].count);
            CHECK_EQ_INT(labels_get_format(l), files[i].format);
            labels_free(l);
        }
        remove(path);
    }
    snprintf(path, sizeof(path), "%s/bad.txt", dir);
    FILE *f = fopen(path, "wb");
    if (CHECK_NOT_NULL(f)) {
        fputs("a\n\nc\n", f);
        fclose(f);
        labels *l = (labels *)&err;
        CHECK_EQ_INT(labels_load(path, &l, err, sizeof(err)), -1);
        CHECK_CONTAINS(err, "bad.txt");
        CHECK_CONTAINS(err, "line 2");
        remove(path);
    }
    rmdir(dir);
}

static void test_load(const char *path) {
    char err[512];
    labels *l = (labels *)&err;
    CHECK_EQ_INT(labels_load("/nonexistent/inferd/classes.json", &l, err, sizeof(err)), -1);
    CHECK_NULL(l);
    CHECK_CONTAINS(err, "/nonexistent/inferd/classes.json");

    if (!path || access(path, F_OK) != 0) {
        char why[600];
        snprintf(why, sizeof(why), "real class index %s not present: skipped the 1000-class checks",
                 path ? path : "(no path given)");
        CHECK_SKIP(why);
        return;
    }
    l = NULL;
    if (!CHECK_MSG(labels_load(path, &l, err, sizeof(err)) == 0, "%s: %s", path, err)) return;
    CHECK_EQ_INT(labels_count(l), 1000);
    CHECK_STR(labels_id(l, 0), "n01440764");
    CHECK_STR(labels_name(l, 0), "tench");
    CHECK_STR(labels_id(l, 207), "n02099601");
    CHECK_STR(labels_name(l, 207), "golden_retriever");
    CHECK_STR(labels_id(l, 999), "n15075141");
    CHECK_STR(labels_name(l, 999), "toilet_tissue");
    CHECK_NULL(labels_id(l, 1000));
    int all_present = 1;
    for (int i = 0; i < 1000; i++)
        if (!labels_id(l, i) || !labels_name(l, i) || labels_id(l, i)[0] != 'n') all_present = 0;
    CHECK(all_present);
    labels_free(l);
}

int main(int argc, char **argv) {
    test_valid();
    test_invalid();
    test_list_and_text();
    test_load_formats();
    test_load(argc > 1 ? argv[1] : NULL);
    return check_summary();
}
