/* test_kserve: kserve.h — the Open Inference Protocol wire format on its own:
 * infer requests with JSON and binary inputs (BYTES elements, FP32 tensors),
 * every malformed size refused with a 400 that names the input, the infer
 * response as JSON or binary (logits and classification strings), and the
 * metadata, config and statistics bodies. Requests are assembled byte for
 * byte here from the binary tensor data extension's description. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "check.h"
#include "kserve.h"

/* A small model: 3x2x2 tensors, 4 classes, at most 8 items per request. */
static const kserve_limits LIMITS = {8, 3, 2, 2};
enum { TENSOR_LEN = 12, CLASSES = 4 };

typedef struct {
    uint8_t data[4096];
    size_t len;
} body_buffer;

static void put(body_buffer *b, const void *p, size_t n) {
    memcpy(b->data + b->len, p, n);
    b->len += n;
}
static void put_le32(body_buffer *b, uint32_t v) {
    uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, le, 4);
}
static void put_element(body_buffer *b, const char *bytes) {
    put_le32(b, (uint32_t)strlen(bytes));
    put(b, bytes, strlen(bytes));
}
static void put_float(body_buffer *b, float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    put_le32(b, bits);
}

/* header JSON followed by whatever the caller appends; returns the header length. */
static size_t start(body_buffer *b, const char *header) {
    b->len = 0;
    put(b, header, strlen(header));
    return b->len;
}

static int parse(const body_buffer *b, size_t header_len, kserve_request *r, char *err) {
    return kserve_parse_infer(b->data, b->len, header_len, &LIMITS, r, err, 256);
}

static void test_header_length(void) {
    size_t n = 0;
    CHECK_EQ_INT(kserve_parse_header_length("123", &n), 0);
    CHECK_EQ_INT((long long)n, 123);
    CHECK_EQ_INT(kserve_parse_header_length("", &n), -1);
    CHECK_EQ_INT(kserve_parse_header_length("-1", &n), -1);
    CHECK_EQ_INT(kserve_parse_header_length("12a", &n), -1);
    CHECK_EQ_INT(kserve_parse_header_length("99999999999999999999999", &n), -1);
}

static void test_json_image(void) {
    body_buffer b;
    /* "aGVsbG8=" is "hello" */
    start(&b, "{\"id\":\"a\",\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[2],"
              "\"data\":[\"aGVsbG8=\",\"d29ybGQ=\"]}],\"outputs\":[{\"name\":\"c\",\"parameters\":{\"classification\":3}}]}");
    kserve_request r;
    char err[256] = "";
    int st = parse(&b, KSERVE_JSON_ONLY, &r, err);
    if (!CHECK_EQ_INT(st, 0)) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    CHECK_STR(r.id, "a");
    if (CHECK_EQ_INT(r.item_count, 2)) {
        CHECK(r.items[0].image_len == 5 && !memcmp(r.items[0].image, "hello", 5));
        CHECK(r.items[1].image_len == 5 && !memcmp(r.items[1].image, "world", 5));
        CHECK(r.items[0].tensor == NULL);
    }
    CHECK_EQ_INT(r.output_count, 1);
    CHECK_STR(r.outputs[0].name, "c");
    CHECK_EQ_INT(r.outputs[0].classification, 3);
    CHECK_EQ_INT(r.outputs[0].binary, 0);
    kserve_request_free(&r);
}

static void test_binary_images(void) {
    body_buffer b;
    const char *elements[4] = {"first", "second image", "3", "the fourth"};
    size_t size = 0;
    for (int i = 0; i < 4; i++) size += 4 + strlen(elements[i]);
    char header[256];
    snprintf(header, sizeof(header),
             "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[4],"
             "\"parameters\":{\"binary_data_size\":%zu}}],\"parameters\":{\"binary_data_output\":true}}",
             size);
    size_t hl = start(&b, header);
    for (int i = 0; i < 4; i++) put_element(&b, elements[i]);
    kserve_request r;
    char err[256] = "";
    int st = parse(&b, hl, &r, err);
    if (!CHECK_EQ_INT(st, 0)) {
        fprintf(stderr, "  %s\n", err);
        return;
    }
    if (CHECK_EQ_INT(r.item_count, 4))
        for (int i = 0; i < 4; i++)
            CHECK(r.items[i].image_len == strlen(elements[i]) &&
                  !memcmp(r.items[i].image, elements[i], strlen(elements[i])));
    /* binary_data_output with no outputs listed: "logits", binary */
    CHECK_EQ_INT(r.output_count, 1);
    CHECK_STR(r.outputs[0].name, "logits");
    CHECK_EQ_INT(r.outputs[0].binary, 1);
    kserve_request_free(&r);

    /* Content-Type may be JSON while the body carries a binary section: only
     * the header length decides. Shape [1,1] is accepted for one element. */
    snprintf(header, sizeof(header),
             "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[1,1],"
             "\"parameters\":{\"binary_data_size\":9}}],\"outputs\":[{\"name\":\"logits\",\"parameters\":{\"binary_data\":true}},"
             "{\"name\":\"top\",\"parameters\":{\"classification\":2,\"binary_data\":false}}]}");
    hl = start(&b, header);
    put_element(&b, "jpeg!");
    st = parse(&b, hl, &r, err);
    if (CHECK_EQ_INT(st, 0)) {
        CHECK_EQ_INT(r.item_count, 1);
        CHECK_EQ_INT(r.output_count, 2);
        CHECK(r.outputs[0].binary == 1 && r.outputs[0].classification == 0);
        CHECK(r.outputs[1].binary == 0 && r.outputs[1].classification == 2);
        kserve_request_free(&r);
    }
}

/* Each malformed request: status, and the error names the input when one is at fault. */
static void expect_error(const body_buffer *b, size_t hl, int want, const char *needle, const char *what) {
    kserve_request r;
    char err[256] = "";
    int st = parse(b, hl, &r, err);
    if (!CHECK_EQ_INT(st, want)) fprintf(stderr, "  case: %s (%s)\n", what, err);
    if (needle && !CHECK(strstr(err, needle) != NULL)) fprintf(stderr, "  case %s: \"%s\" lacks \"%s\"\n", what, err, needle);
    CHECK(r.items == NULL && r.item_count == 0); /* nothing left to free on failure */
    if (st == 0) kserve_request_free(&r);
}

/* one binary BYTES input "image" of shape [%d] and binary_data_size %d */
#define BINARY_IMAGE_HEADER                                                                                             \
    "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[%d],\"parameters\":{\"binary_data_size\":%d}}]}"

static void test_malformed_sizes(void) {
    body_buffer b;
    char header[256];
    size_t hl;

    /* header length past the body */
    snprintf(header, sizeof(header), BINARY_IMAGE_HEADER, 1, 9);
    hl = start(&b, header);
    put_element(&b, "abcde");
    expect_error(&b, b.len + 1, 400, "Inference-Header-Content-Length", "header length past the body");
    expect_error(&b, (size_t)-2, 400, "Inference-Header-Content-Length", "huge header length");
    /* header length cuts the JSON */
    expect_error(&b, hl - 3, 400, NULL, "header length inside the JSON");
    /* binary_data_size past the end */
    snprintf(header, sizeof(header), BINARY_IMAGE_HEADER, 1, 100);
    hl = start(&b, header);
    put_element(&b, "abcde");
    expect_error(&b, hl, 400, "input \"image\"", "binary_data_size past the end");
    /* binary_data_size smaller than what follows: does not add up */
    snprintf(header, sizeof(header), BINARY_IMAGE_HEADER, 1, 9);
    hl = start(&b, header);
    put_element(&b, "abcde");
    put(&b, "junk", 4);
    expect_error(&b, hl, 400, "does not add up", "trailing bytes");
    /* element length running past its tensor (but not past the body) */
    snprintf(header, sizeof(header), BINARY_IMAGE_HEADER, 1, 9);
    hl = start(&b, header);
    put_le32(&b, 7);
    put(&b, "abcde", 5);
    put(&b, "xx", 2); /* the element's tail is in the body, outside the input's 9 bytes */
    expect_error(&b, hl, 400, "input \"image\": a BYTES element runs past", "element past its tensor");
    /* a huge element length */
    snprintf(header, sizeof(header), BINARY_IMAGE_HEADER, 1, 9);
    hl = start(&b, header);
    put_le32(&b, 0xffffffffu);
    put(&b, "abcde", 5);
    expect_error(&b, hl, 400, "input \"image\"", "element length 2^32-1");
    /* length prefix cut off */
    snprintf(header, sizeof(header), BINARY_IMAGE_HEADER, 1, 3);
    hl = start(&b, header);
    put(&b, "\x05\x00\x00", 3);
    expect_error(&b, hl, 400, "cut off", "cut length prefix");
    /* more elements than shape */
    snprintf(header, sizeof(header), BINARY_IMAGE_HEADER, 1, 18);
    hl = start(&b, header);
    put_element(&b, "abcde");
    put_element(&b, "fghij");
    expect_error(&b, hl, 400, "more elements than \"shape\"", "more elements than shape");
    /* fewer elements than shape */
    snprintf(header, sizeof(header), BINARY_IMAGE_HEADER, 3, 9);
    hl = start(&b, header);
    put_element(&b, "abcde");
    expect_error(&b, hl, 400, "fewer elements", "fewer elements than shape");
    /* shape above max_images */
    snprintf(header, sizeof(header), BINARY_IMAGE_HEADER, 9, 9);
    hl = start(&b, header);
    put_element(&b, "abcde");
    expect_error(&b, hl, 413, "too many images", "shape above the limit");
    /* negative, fractional and string sizes */
    hl = start(&b, "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[1],"
                   "\"parameters\":{\"binary_data_size\":-1}}]}");
    expect_error(&b, hl, 400, "binary_data_size must be", "negative size");
    hl = start(&b, "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[1],"
                   "\"parameters\":{\"binary_data_size\":\"9\"}}]}");
    expect_error(&b, hl, 400, "binary_data_size must be", "string size");
    /* binary_data_size without the header */
    snprintf(header, sizeof(header), BINARY_IMAGE_HEADER, 1, 9);
    start(&b, header);
    expect_error(&b, KSERVE_JSON_ONLY, 400, "Inference-Header-Content-Length", "no header length");
    /* both data and binary_data_size */
    hl = start(&b, "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"aGk=\"],"
                   "\"parameters\":{\"binary_data_size\":6}}]}");
    put_element(&b, "hi");
    expect_error(&b, hl, 400, "both", "data and binary_data_size");
    /* header length with a body that is all JSON: no binary section, fine;
     * with bytes after it that no input claims: refused */
    hl = start(&b, "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"aGk=\"]}]}");
    put(&b, "\x01\x02", 2);
    expect_error(&b, hl, 400, "does not add up", "unclaimed binary bytes");
    /* an empty element */
    snprintf(header, sizeof(header), BINARY_IMAGE_HEADER, 1, 4);
    hl = start(&b, header);
    put_le32(&b, 0);
    expect_error(&b, hl, 400, "empty", "empty element");
    /* bad JSON bits */
    start(&b, "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"aGk=\"]},"
              "{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"aGk=\"]}]}");
    expect_error(&b, KSERVE_JSON_ONLY, 400, "twice", "duplicate input");
    start(&b, "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1]}]}");
    expect_error(&b, KSERVE_JSON_ONLY, 400, "BYTES", "image as FP32");
    start(&b, "[1,2]");
    expect_error(&b, KSERVE_JSON_ONLY, 400, "JSON object", "array body");
    start(&b, "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"aGk=\"]}],"
              "\"outputs\":[{\"name\":\"x\",\"parameters\":{\"binary_data\":1}}]}");
    expect_error(&b, KSERVE_JSON_ONLY, 400, "binary_data must be a boolean", "binary_data not a bool");
}

static void fill_tensor(float *t, int n, float base) {
    for (int i = 0; i < n; i++) t[i] = base + (float)i * 0.25f - 1.0f / 3.0f;
}

static void test_tensor_input(void) {
    float want[2 * TENSOR_LEN];
    fill_tensor(want, 2 * TENSOR_LEN, 0.5f);
    /* JSON, nested [N][C][H][W] as numpy's tolist() gives, %.9g round-trips a float */
    char header[4096];
    int off = snprintf(header, sizeof(header),
                       "{\"inputs\":[{\"name\":\"tensor\",\"datatype\":\"FP32\",\"shape\":[2,3,2,2],\"data\":[");
    for (int n = 0; n < 2; n++) {
        off += snprintf(header + off, sizeof(header) - (size_t)off, "%s[", n ? "," : "");
        for (int c = 0; c < 3; c++) {
            off += snprintf(header + off, sizeof(header) - (size_t)off, "%s[", c ? "," : "");
            for (int y = 0; y < 2; y++) {
                const float *p = &want[n * TENSOR_LEN + c * 4 + y * 2];
                off += snprintf(header + off, sizeof(header) - (size_t)off, "%s[%.9g,%.9g]", y ? "," : "",
                                (double)p[0], (double)p[1]);
            }
            off += snprintf(header + off, sizeof(header) - (size_t)off, "]");
        }
        off += snprintf(header + off, sizeof(header) - (size_t)off, "]");
    }
    snprintf(header + off, sizeof(header) - (size_t)off, "]}]}");
    body_buffer b;
    start(&b, header);
    kserve_request r;
    char err[256] = "";
    int st = parse(&b, KSERVE_JSON_ONLY, &r, err);
    if (CHECK_EQ_INT(st, 0) && CHECK_EQ_INT(r.item_count, 2)) {
        CHECK(r.items[0].tensor && !memcmp(r.items[0].tensor, want, sizeof(float) * TENSOR_LEN));
        CHECK(r.items[1].tensor && !memcmp(r.items[1].tensor, want + TENSOR_LEN, sizeof(float) * TENSOR_LEN));
        CHECK(r.items[0].image == NULL);
        kserve_request_free(&r);
    } else {
        fprintf(stderr, "  %s\n", err);
    }

    /* binary, little-endian row-major */
    size_t hl = start(&b, "{\"inputs\":[{\"name\":\"tensor\",\"datatype\":\"FP32\",\"shape\":[2,3,2,2],"
                          "\"parameters\":{\"binary_data_size\":96}}]}");
    for (int i = 0; i < 2 * TENSOR_LEN; i++) put_float(&b, want[i]);
    st = parse(&b, hl, &r, err);
    if (CHECK_EQ_INT(st, 0) && CHECK_EQ_INT(r.item_count, 2)) {
        CHECK(!memcmp(r.items[1].tensor, want + TENSOR_LEN, sizeof(float) * TENSOR_LEN));
        kserve_request_free(&r);
    }
    /* wrong size for the shape */
    hl = start(&b, "{\"inputs\":[{\"name\":\"tensor\",\"datatype\":\"FP32\",\"shape\":[2,3,2,2],"
                   "\"parameters\":{\"binary_data_size\":92}}]}");
    for (int i = 0; i < 23; i++) put_float(&b, want[i]);
    expect_error(&b, hl, 400, "input \"tensor\": binary_data_size does not match", "FP32 size mismatch");
    /* NaN and infinity */
    hl = start(&b, "{\"inputs\":[{\"name\":\"tensor\",\"datatype\":\"FP32\",\"shape\":[1,3,2,2],"
                   "\"parameters\":{\"binary_data_size\":48}}]}");
    for (int i = 0; i < TENSOR_LEN; i++) put_float(&b, i == 5 ? NAN : 0.0f);
    expect_error(&b, hl, 400, "finite", "NaN");
    hl = start(&b, "{\"inputs\":[{\"name\":\"tensor\",\"datatype\":\"FP32\",\"shape\":[1,3,2,2],"
                   "\"parameters\":{\"binary_data_size\":48}}]}");
    for (int i = 0; i < TENSOR_LEN; i++) put_float(&b, i == 11 ? -INFINITY : 0.0f);
    expect_error(&b, hl, 400, "finite", "infinity");
    start(&b, "{\"inputs\":[{\"name\":\"tensor\",\"datatype\":\"FP32\",\"shape\":[1,3,2,2],\"data\":[1e39,0,0,0,0,0,0,0,0,0,0,0]}]}");
    expect_error(&b, KSERVE_JSON_ONLY, 400, "finite", "JSON value beyond FP32");
    /* shape and count */
    start(&b, "{\"inputs\":[{\"name\":\"tensor\",\"datatype\":\"FP32\",\"shape\":[1,3,4,4],\"data\":[1]}]}");
    expect_error(&b, KSERVE_JSON_ONLY, 400, "[N,3,2,2]", "wrong H, W");
    start(&b, "{\"inputs\":[{\"name\":\"tensor\",\"datatype\":\"FP32\",\"shape\":[1,3,2,2],\"data\":[1,2,3]}]}");
    expect_error(&b, KSERVE_JSON_ONLY, 400, "fewer elements", "too few values");
    start(&b, "{\"inputs\":[{\"name\":\"tensor\",\"datatype\":\"FP32\",\"shape\":[1,3,2,2],"
              "\"data\":[0,0,0,0,0,0,0,0,0,0,0,0,0]}]}");
    expect_error(&b, KSERVE_JSON_ONLY, 400, "more elements", "too many values");
    start(&b, "{\"inputs\":[{\"name\":\"tensor\",\"datatype\":\"FP32\",\"shape\":[1,3,2,2],"
              "\"data\":[0,0,0,0,0,0,0,0,0,0,0,\"x\"]}]}");
    expect_error(&b, KSERVE_JSON_ONLY, 400, "array of numbers", "a string value");
    start(&b, "{\"inputs\":[{\"name\":\"tensor\",\"datatype\":\"FP32\",\"shape\":[9,3,2,2],\"data\":[]}]}");
    expect_error(&b, KSERVE_JSON_ONLY, 413, "too many", "N above the limit");
    start(&b, "{\"inputs\":[{\"name\":\"tensor\",\"datatype\":\"BYTES\",\"shape\":[1],\"data\":[\"aGk=\"]}]}");
    expect_error(&b, KSERVE_JSON_ONLY, 400, "FP32", "tensor as BYTES");
}

static void test_mixed_inputs(void) {
    /* a binary BYTES image first, then a JSON FP32 tensor: items in input order */
    body_buffer b;
    size_t hl = start(&b, "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[1],"
                          "\"parameters\":{\"binary_data_size\":7}},"
                          "{\"name\":\"tensor\",\"datatype\":\"FP32\",\"shape\":[1,3,2,2],\"data\":[0,1,2,3,4,5,6,7,8,9,10,11]}]}");
    put_element(&b, "img");
    kserve_request r;
    char err[256] = "";
    int st = parse(&b, hl, &r, err);
    if (CHECK_EQ_INT(st, 0) && CHECK_EQ_INT(r.item_count, 2)) {
        CHECK(r.items[0].image && r.items[0].image_len == 3);
        CHECK(r.items[1].tensor && r.items[1].tensor[11] == 11.0f);
        kserve_request_free(&r);
    } else {
        fprintf(stderr, "  %s\n", err);
    }
    /* together above the limit */
    hl = start(&b, "{\"inputs\":[{\"name\":\"image\",\"datatype\":\"BYTES\",\"shape\":[5],\"data\":[\"YQ==\",\"YQ==\",\"YQ==\",\"YQ==\",\"YQ==\"]},"
                   "{\"name\":\"tensor\",\"datatype\":\"FP32\",\"shape\":[4,3,2,2],\"data\":[]}]}");
    expect_error(&b, KSERVE_JSON_ONLY, 413, "too many", "image + tensor above the limit");
}

static kserve_model small_model(void) {
    kserve_model m;
    memset(&m, 0, sizeof(m));
    m.name = "my_classifier";
    m.version = "1";
    m.platform = "pytorch_libtorch";
    m.num_classes = CLASSES;
    m.channels = 3;
    m.height = m.width = 2;
    m.weights = "seeded";
    m.precision = "fp32";
    m.max_batch = 2;
    m.batch_delay_us = 2000;
    m.queue_capacity = 64;
    m.max_images = 8;
    m.instances = 2;
    m.resize = 3;
    return m;
}

static uint32_t le32_at(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void test_response(void) {
    kserve_model m = small_model();
    float row0[CLASSES] = {0.5f, 2.0f, -1.0f, 1.0f};
    float row1[CLASSES] = {3.0f, 0.0f, 0.25f, -2.0f};
    const float *logits[2] = {row0, row1};
    kserve_request r;
    memset(&r, 0, sizeof(r));
    r.item_count = 2;
    snprintf(r.id, sizeof(r.id), "q");
    r.output_count = 2;
    snprintf(r.outputs[0].name, sizeof(r.outputs[0].name), "logits");
    r.outputs[0].binary = 1;
    snprintf(r.outputs[1].name, sizeof(r.outputs[1].name), "classification");
    r.outputs[1].classification = 2;
    r.outputs[1].binary = 1;
    kserve_response resp;
    if (!CHECK_EQ_INT(kserve_infer_response(&r, &m, logits, &resp), 0)) return;
    CHECK(resp.header_len > 0 && resp.header_len < resp.len);
    cJSON *root = cJSON_ParseWithLength((const char *)resp.body, resp.header_len);
    if (CHECK(root != NULL)) {
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(root, "model_name")), "my_classifier");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(root, "id")), "q");
        cJSON *o0 = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "outputs"), 0);
        cJSON *o1 = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "outputs"), 1);
        double s0 = cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o0, "parameters"), "binary_data_size"));
        double s1 = cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o1, "parameters"), "binary_data_size"));
        CHECK(cJSON_GetObjectItem(o0, "data") == NULL && cJSON_GetObjectItem(o1, "data") == NULL);
        CHECK(s0 == 2 * CLASSES * 4);
        CHECK(resp.header_len + (size_t)s0 + (size_t)s1 == resp.len);
        /* the FP32 logits, little-endian, row-major */
        const uint8_t *bin = resp.body + resp.header_len;
        int exact = 1;
        for (int i = 0; i < 2 * CLASSES; i++) {
            uint32_t bits = le32_at(bin + 4 * i);
            float f;
            memcpy(&f, &bits, 4);
            exact &= f == logits[i / CLASSES][i % CLASSES];
        }
        CHECK(exact);
        /* the classification strings as BYTES elements: top-2 per row */
        const uint8_t *p = bin + (size_t)s0;
        const char *want[4] = {"2.000000:1", "1.000000:3", "3.000000:0", "0.250000:2"};
        for (int i = 0; i < 4; i++) {
            uint32_t n = le32_at(p);
            CHECK(n == strlen(want[i]) && !memcmp(p + 4, want[i], n));
            p += 4 + n;
        }
        CHECK(p == resp.body + resp.len);
        int dims[2] = {(int)cJSON_GetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItem(o1, "shape"), 0)),
                       (int)cJSON_GetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItem(o1, "shape"), 1))};
        CHECK(dims[0] == 2 && dims[1] == 2);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o1, "datatype")), "BYTES");
    }
    cJSON_Delete(root);
    kserve_response_free(&resp);

    /* JSON only: header_len 0 and the body parses whole */
    r.output_count = 1;
    r.outputs[0].binary = 0;
    if (CHECK_EQ_INT(kserve_infer_response(&r, &m, logits, &resp), 0)) {
        CHECK_EQ_INT((long long)resp.header_len, 0);
        root = cJSON_ParseWithLength((const char *)resp.body, resp.len);
        cJSON *data = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "outputs"), 0), "data");
        CHECK_EQ_INT(cJSON_GetArraySize(data), 2 * CLASSES);
        CHECK(cJSON_GetNumberValue(cJSON_GetArrayItem(data, 4)) == 3.0);
        cJSON_Delete(root);
        kserve_response_free(&resp);
    }
}

static void test_metadata(void) {
    kserve_model m = small_model();
    char *s = kserve_server_metadata("9.9");
    cJSON *root = cJSON_Parse(s);
    cJSON *ext = cJSON_GetObjectItem(root, "extensions");
    const char *want[] = {"binary_tensor_data", "classification", "statistics", "model_configuration"};
    for (int i = 0; i < 4; i++) {
        int found = 0;
        cJSON *e;
        cJSON_ArrayForEach(e, ext) found |= check_str_equal(cJSON_GetStringValue(e), want[i]);
        CHECK(found);
    }
    cJSON_Delete(root);
    free(s);

    s = kserve_model_metadata(&m);
    root = cJSON_Parse(s);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(root, "name")), "my_classifier");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(root, "platform")), "pytorch_libtorch");
    cJSON *in1 = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "inputs"), 1);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(in1, "datatype")), "FP32");
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(in1, "shape")), 4);
    cJSON *out = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "outputs"), 0);
    CHECK(cJSON_GetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItem(out, "shape"), 1)) == CLASSES);
    cJSON_Delete(root);
    free(s);

    s = kserve_model_config(&m);
    root = cJSON_Parse(s);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(root, "max_batch_size")) == 2);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(root, "dynamic_batching"),
                                                   "max_queue_delay_microseconds")) == 2000);
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "input")), 2);
    cJSON_Delete(root);
    free(s);

    kserve_stats st;
    memset(&st, 0, sizeof(st));
    st.inference_count = 5;
    st.execution_count = 3;
    st.success = (kserve_duration){2, 1000};
    st.batch_infer[2] = (kserve_duration){2, 700};
    st.batch_infer[1] = (kserve_duration){1, 300};
    s = kserve_model_stats(&m, &st);
    root = cJSON_Parse(s);
    cJSON *ms = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "model_stats"), 0);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(ms, "version")), "1");
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(ms, "inference_count")) == 5);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(ms, "inference_stats"),
                                                                       "success"), "ns")) == 1000);
    cJSON *bs = cJSON_GetObjectItem(ms, "batch_stats");
    CHECK_EQ_INT(cJSON_GetArraySize(bs), 2);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetArrayItem(bs, 1), "batch_size")) == 2);
    cJSON_Delete(root);
    free(s);
}

int main(void) {
    test_header_length();
    test_json_image();
    test_binary_images();
    test_malformed_sizes();
    test_tensor_input();
    test_mixed_inputs();
    test_response();
    test_metadata();
    return check_summary();
}
