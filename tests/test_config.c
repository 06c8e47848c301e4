/* test_config: config.h — defaults, config_apply_json (types, ranges, unknown
 * keys), config_load's precedence flag > INFERD_* environment > file >
 * default, the flag forms, --check-config and --help. The test runs in a
 * fresh temporary directory with every INFERD_* variable removed, so neither
 * the caller's environment nor a ./config.json can leak in. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "check.h"
#include "config.h"
#include "model_meta.h"

extern char **environ;

static char tmp_dir[256];

/* Removes every INFERD_* variable of the environment. */
static void clear_inferd_env(void) {
    for (;;) {
        char name[256] = "";
        for (char **e = environ; e && *e; e++) {
            if (strncmp(*e, "INFERD_", 7) == 0) {
                const char *eq = strchr(*e, '=');
                size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
                if (n >= sizeof(name)) n = sizeof(name) - 1;
                memcpy(name, *e, n);
                name[n] = '\0';
                break;
            }
        }
        if (!name[0]) return;
        unsetenv(name);
    }
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t n = strlen(text);
    int ok = fwrite(text, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Reads everything written to a tmpfile() stream. */
static char *slurp(FILE *f) {
    long n = ftell(f);
    if (n < 0) return NULL;
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    if (!buf) return NULL;
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    return buf;
}

/* config_load on a NULL-terminated argument list; output discarded unless out given. */
static config_action load_args(inferd_config *cfg, FILE *out, char *err, size_t errlen, const char *const *args) {
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"inferd";
    for (; args[argc - 1] && argc < 31; argc++) argv[argc] = (char *)args[argc - 1];
    argv[argc] = NULL;
    FILE *sink = out ? out : tmpfile();
    err[0] = '\0';
    config_action a = config_load(cfg, argc, argv, sink, err, errlen);
    if (!out && sink) fclose(sink);
    return a;
}

#define APPLY(cfg, json, origin) config_apply_json((cfg), (json), strlen(json), (origin), err, sizeof(err))

#define LOAD(cfg, err, ...) load_args((cfg), NULL, (err), sizeof(err), (const char *const[]){__VA_ARGS__, NULL})

static void test_defaults(void) {
    inferd_config c;
    config_defaults(&c);
    CHECK_EQ_INT(c.port, 5000);
    CHECK_STR(c.addr, "0.0.0.0");
    CHECK_EQ_INT(c.resize, 255);
    CHECK_EQ_INT(c.crop, 224);
    CHECK_EQ_FLOAT(c.mean[0], 0.485);
    CHECK_EQ_FLOAT(c.mean[1], 0.456);
    CHECK_EQ_FLOAT(c.mean[2], 0.406);
    CHECK_EQ_FLOAT(c.std[0], 0.229);
    CHECK_EQ_FLOAT(c.std[1], 0.224);
    CHECK_EQ_FLOAT(c.std[2], 0.225);
    CHECK_STR(c.precision, "fp32");
    CHECK_STR(c.log_format, "plain");
    CHECK(c.max_pixels > 0);
    CHECK(c.max_body_bytes > 0);
    CHECK(c.max_batch >= 1);
    char err[256] = "";
    CHECK_MSG(config_validate(&c, err, sizeof(err)) == 0, "defaults do not validate: %s", err);
    config_free(&c);
    CHECK_NULL(c.addr);
}

static void test_apply_json(void) {
    inferd_config c;
    config_defaults(&c);
    char err[512];

    /* The original server's config.json, applied over other values. */
    const char *orig = "{\"addr\":\"0.0.0.0\",\"port\":5000}";
    CHECK_EQ_INT(APPLY(&c, "{\"addr\":\"127.0.0.1\",\"port\":8080}", "t.json"), 0);
    CHECK_STR(c.addr, "127.0.0.1");
    CHECK_EQ_INT(c.port, 8080);
    CHECK_EQ_INT(APPLY(&c, orig, "config.json"), 0);
    CHECK_STR(c.addr, "0.0.0.0");
    CHECK_EQ_INT(c.port, 5000);
    CHECK_EQ_INT(c.resize, 255); /* untouched keys keep their value */
    CHECK_EQ_INT(c.crop, 224);

    /* len is honoured: trailing bytes past len are not read. */
    const char *longer = "{\"port\":6001}{{{{garbage";
    CHECK_EQ_INT(config_apply_json(&c, longer, 13, "x", err, sizeof(err)), 0);
    CHECK_EQ_INT(c.port, 6001);

    /* Unknown key: an error naming it and the origin. */
    const char *unk = "{\"port\":5001,\"prot\":5000}";
    CHECK_EQ_INT(config_apply_json(&c, unk, strlen(unk), "my.json", err, sizeof(err)), -1);
    CHECK_CONTAINS(err, "prot");
    CHECK_CONTAINS(err, "my.json");

    /* Wrong types: each an error naming the key, the value left as it was. */
    static const char *const wrong[] = {
        "{\"port\":\"5000\"}",       "{\"port\":5000.5}",       "{\"port\":true}",
        "{\"port\":null}",           "{\"port\":[5000]}",       "{\"addr\":5}",
        "{\"addr\":null}",           "{\"optimize\":1}",        "{\"optimize\":\"true\"}",
        "{\"mean\":[0.5,0.5]}",      "{\"mean\":[0.5,0.5,0.5,0.5]}", "{\"mean\":[0.5,\"a\",0.5]}",
        "{\"mean\":0.5}",            "{\"std\":{\"r\":1,\"g\":1,\"b\":1}}", "{\"max_pixels\":1e30}",
        "{\"precision\":\"fp16\"}",  "{\"log_format\":\"xml\"}",
    };
    static const char *const wrong_key[] = {"port", "port", "port", "port", "port", "addr",
                                            "addr", "optimize", "optimize", "mean", "mean", "mean",
                                            "mean", "std", "max_pixels", "precision", "log_format"};
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        inferd_config d;
        config_defaults(&d);
        err[0] = '\0';
        int rc = config_apply_json(&d, wrong[i], strlen(wrong[i]), "w.json", err, sizeof(err));
        CHECK_MSG(rc == -1, "%s accepted", wrong[i]);
        CHECK_MSG(strstr(err, wrong_key[i]) != NULL, "error for %s does not name %s: \"%s\"", wrong[i],
                  wrong_key[i], err);
        CHECK_EQ_INT(d.port, 5000);
        CHECK_STR(d.addr, "0.0.0.0");
        CHECK_EQ_FLOAT(d.mean[1], 0.456);
        CHECK_STR(d.precision, "fp32");
        config_free(&d);
    }

    /* Port range 0..65535. */
    c.port = 1234;
    CHECK_EQ_INT(APPLY(&c, "{\"port\":65536}", "r"), -1);
    CHECK_CONTAINS(err, "port");
    CHECK_EQ_INT(c.port, 1234);
    CHECK_EQ_INT(APPLY(&c, "{\"port\":-1}", "r"), -1);
    CHECK_EQ_INT(c.port, 1234);
    CHECK_EQ_INT(APPLY(&c, "{\"port\":65535}", "r"), 0);
    CHECK_EQ_INT(c.port, 65535);
    CHECK_EQ_INT(APPLY(&c, "{\"port\":0}", "r"), 0);
    CHECK_EQ_INT(c.port, 0);
    /* A 64-bit key takes values past INT_MAX. */
    CHECK_EQ_INT(APPLY(&c, "{\"max_body_bytes\":5000000000}", "r"), 0);
    CHECK_EQ_INT(c.max_body_bytes, 5000000000LL);
    CHECK_EQ_INT(APPLY(&c, "{\"max_batch\":0}", "r"), -1);
    CHECK_CONTAINS(err, "max_batch");

    /* mean/std arrays, integers accepted as numbers. */
    const char *norm = "{\"mean\":[0.5,0.25,0.125],\"std\":[1,2,4.5]}";
    CHECK_EQ_INT(config_apply_json(&c, norm, strlen(norm), "n", err, sizeof(err)), 0);
    CHECK_EQ_FLOAT(c.mean[0], 0.5);
    CHECK_EQ_FLOAT(c.mean[1], 0.25);
    CHECK_EQ_FLOAT(c.mean[2], 0.125);
    CHECK_EQ_FLOAT(c.std[0], 1.0);
    CHECK_EQ_FLOAT(c.std[1], 2.0);
    CHECK_EQ_FLOAT(c.std[2], 4.5);

    /* Strings and booleans. */
    const char *misc = "{\"precision\":\"bf16\",\"log_format\":\"json\",\"optimize\":false,\"static_dir\":\"\"}";
    CHECK_EQ_INT(config_apply_json(&c, misc, strlen(misc), "m", err, sizeof(err)), 0);
    CHECK_STR(c.precision, "bf16");
    CHECK_STR(c.log_format, "json");
    CHECK_EQ_INT(c.optimize, 0);

    /* Not JSON / not an object. */
    CHECK_EQ_INT(APPLY(&c, "{\"port\":", "bad.json"), -1);
    CHECK_CONTAINS(err, "bad.json");
    CHECK_EQ_INT(APPLY(&c, "[1,2]", "arr.json"), -1);
    CHECK_CONTAINS(err, "arr.json");
    CHECK_EQ_INT(APPLY(&c, "", "empty.json"), -1);
    /* Trailing whitespace is fine; anything else after the object means the
     * file is not one JSON document (a stray brace, a pasted second object)
     * and must not be silently ignored (Python's json.load refuses it too). */
    c.port = 1234;
    CHECK_EQ_INT(APPLY(&c, "{\"port\":6002}\n\t ", "ws.json"), 0);
    CHECK_EQ_INT(c.port, 6002);
    static const char *const trailing[] = {"{\"port\":6003}}", "{\"port\":6004} {\"port\":6005}",
                                           "{\"port\":6006} xyz"};
    for (size_t i = 0; i < 3; i++) {
        int rc = APPLY(&c, trailing[i], "trailing.json");
        CHECK_MSG(rc == -1, "'%s' accepted as one JSON document (port now %d)", trailing[i], c.port);
    }
    /* An empty object changes nothing and is fine. */
    CHECK_EQ_INT(APPLY(&c, "{}", "e"), 0);
    config_free(&c);
}

static void test_validate(void) {
    inferd_config c;
    char err[256];
    config_defaults(&c);
    c.std[1] = 0.0;
    CHECK_EQ_INT(config_validate(&c, err, sizeof(err)), -1);
    CHECK_CONTAINS(err, "std");
    config_free(&c);
    config_defaults(&c);
    c.std[2] = -1.0;
    CHECK_EQ_INT(config_validate(&c, err, sizeof(err)), -1);
    config_free(&c);
}

static void test_load_precedence(void) {
    char err[512];
    inferd_config c;
    char path[512];
    snprintf(path, sizeof(path), "%s/settings.json", tmp_dir);
    CHECK_EQ_INT(write_text(path, "{\"port\":6000,\"resize\":300,\"crop\":200,\"max_batch\":8,\"addr\":\"127.0.0.2\"}"),
                 0);

    /* Default only (no ./config.json in the fresh directory). */
    CHECK_EQ_INT(LOAD(&c, err, "--max-images", "7"), CONFIG_RUN);
    CHECK_EQ_INT(c.port, 5000);
    CHECK_EQ_INT(c.resize, 255);
    CHECK_EQ_INT(c.max_images, 7);
    CHECK_EQ_INT(c.exif_orientation, 0); /* default: Image.open's behaviour */
    config_free(&c);

    /* exif_orientation from each source. */
    CHECK_EQ_INT(LOAD(&c, err, "--exif-orientation", "true"), CONFIG_RUN);
    CHECK_EQ_INT(c.exif_orientation, 1);
    config_free(&c);
    setenv("INFERD_EXIF_ORIENTATION", "1", 1);
    CHECK_EQ_INT(LOAD(&c, err, "--max-images", "7"), CONFIG_RUN);
    CHECK_EQ_INT(c.exif_orientation, 1);
    config_free(&c);
    CHECK_EQ_INT(LOAD(&c, err, "--exif-orientation=off"), CONFIG_RUN); /* flag over environment */
    CHECK_EQ_INT(c.exif_orientation, 0);
    config_free(&c);
    unsetenv("INFERD_EXIF_ORIENTATION");
    {
        inferd_config j;
        config_defaults(&j);
        CHECK_EQ_INT(config_apply_json(&j, "{\"exif_orientation\":true}", strlen("{\"exif_orientation\":true}"), "test", err, sizeof(err)), 0);
        CHECK_EQ_INT(j.exif_orientation, 1);
        CHECK_EQ_INT(config_apply_json(&j, "{\"exif_orientation\":7}", strlen("{\"exif_orientation\":7}"), "test", err, sizeof(err)), -1);
        config_free(&j);
    }

    /* File over default. */
    CHECK_EQ_INT(LOAD(&c, err, "--config", path), CONFIG_RUN);
    CHECK_EQ_INT(c.port, 6000);
    CHECK_EQ_INT(c.resize, 300);
    CHECK_EQ_INT(c.crop, 200);
    CHECK_EQ_INT(c.max_batch, 8);
    CHECK_STR(c.addr, "127.0.0.2");
    CHECK_EQ_INT(c.max_images, 32);
    config_free(&c);

    /* Environment over file. */
    setenv("INFERD_PORT", "6500", 1);
    setenv("INFERD_RESIZE", "310", 1);
    setenv("INFERD_MEAN", "0.5, 0.25 ,0.125", 1);
    CHECK_EQ_INT(LOAD(&c, err, "--config", path), CONFIG_RUN);
    CHECK_EQ_INT(c.port, 6500);
    CHECK_EQ_INT(c.resize, 310);
    CHECK_EQ_INT(c.crop, 200);      /* file */
    CHECK_EQ_INT(c.max_batch, 8);   /* file */
    CHECK_EQ_INT(c.max_images, 32); /* default */
    CHECK_EQ_FLOAT(c.mean[0], 0.5);
    CHECK_EQ_FLOAT(c.mean[1], 0.25);
    CHECK_EQ_FLOAT(c.mean[2], 0.125);
    config_free(&c);

    /* Flag over environment, both flag forms; --config=PATH form too. */
    CHECK_EQ_INT(LOAD(&c, err, "--config", path, "--port", "7000"), CONFIG_RUN);
    CHECK_EQ_INT(c.port, 7000);
    CHECK_EQ_INT(c.resize, 310);
    CHECK_EQ_INT(c.crop, 200);
    config_free(&c);
    /* The flag wins even when it comes before --config. */
    char config_eq[600];
    snprintf(config_eq, sizeof(config_eq), "--config=%s", path);
    CHECK_EQ_INT(LOAD(&c, err, "--port=7000", config_eq, "--resize=320"), CONFIG_RUN);
    CHECK_EQ_INT(c.port, 7000);
    CHECK_EQ_INT(c.resize, 320);
    CHECK_EQ_INT(c.crop, 200);
    config_free(&c);
    /* Repeated flag: the last one wins. */
    CHECK_EQ_INT(LOAD(&c, err, "--port", "7001", "--port=7002"), CONFIG_RUN);
    CHECK_EQ_INT(c.port, 7002);
    config_free(&c);

    unsetenv("INFERD_PORT");
    unsetenv("INFERD_RESIZE");
    unsetenv("INFERD_MEAN");

    /* ./config.json is read when present, and --config replaces it. */
    CHECK_EQ_INT(write_text("config.json", "{\"port\":6100}"), 0);
    CHECK_EQ_INT(LOAD(&c, err, "--max-images", "3"), CONFIG_RUN);
    CHECK_EQ_INT(c.port, 6100);
    config_free(&c);
    CHECK_EQ_INT(LOAD(&c, err, "--config", path), CONFIG_RUN);
    CHECK_EQ_INT(c.port, 6000);
    config_free(&c);
    /* A broken ./config.json is an error, not silently skipped. */
    CHECK_EQ_INT(write_text("config.json", "{\"port\":"), 0);
    CHECK_EQ_INT(LOAD(&c, err, "--max-images", "3"), CONFIG_EXIT_ERROR);
    CHECK_CONTAINS(err, "config.json");
    config_free(&c);
    remove("config.json");

    /* An explicit --config that does not exist is an error. */
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/nope.json", tmp_dir);
    CHECK_EQ_INT(LOAD(&c, err, "--config", missing), CONFIG_EXIT_ERROR);
    CHECK_CONTAINS(err, "nope.json");
    config_free(&c);
    remove(path);
}

/* Resize/crop as n or [h, w], interpolation, and where each value came from. */
static void test_sizes_and_origins(void) {
    char err[512];
    inferd_config c;
    char path[512];
    snprintf(path, sizeof(path), "%s/sizes.json", tmp_dir);
    CHECK_EQ_INT(write_text(path, "{\"resize\":[240,320],\"crop\":[224,288],\"interpolation\":\"bicubic\"}"), 0);
    CHECK_EQ_INT(LOAD(&c, err, "--config", path), CONFIG_RUN);
    CHECK_EQ_INT(c.resize, 0);
    CHECK_EQ_INT(c.resize_hw[0], 240);
    CHECK_EQ_INT(c.resize_hw[1], 320);
    CHECK_EQ_INT(c.crop, 0);
    CHECK_EQ_INT(c.crop_hw[0], 224);
    CHECK_EQ_INT(c.crop_hw[1], 288);
    CHECK_STR(c.interpolation, "bicubic");
    CHECK_EQ_INT(config_key_origin(&c, "resize"), CONFIG_FROM_FILE);
    CHECK_EQ_INT(config_key_origin(&c, "interpolation"), CONFIG_FROM_FILE);
    CHECK_EQ_INT(config_key_origin(&c, "mean"), CONFIG_FROM_DEFAULT);
    CHECK_EQ_INT(config_key_origin(&c, "no_such_key"), CONFIG_FROM_DEFAULT);
    config_free(&c);

    setenv("INFERD_CROP", "200", 1);
    CHECK_EQ_INT(LOAD(&c, err, "--config", path, "--resize", "256", "--std=0.5,0.5,0.5"), CONFIG_RUN);
    CHECK_EQ_INT(c.resize, 256);
    CHECK_EQ_INT(c.resize_hw[0], 0);
    CHECK_EQ_INT(c.crop, 200);
    CHECK_EQ_INT(c.crop_hw[0], 200);
    CHECK_EQ_INT(c.crop_hw[1], 200);
    CHECK_EQ_INT(config_key_origin(&c, "resize"), CONFIG_FROM_FLAG);
    CHECK_EQ_INT(config_key_origin(&c, "crop"), CONFIG_FROM_ENV);
    CHECK_EQ_INT(config_key_origin(&c, "std"), CONFIG_FROM_FLAG);
    CHECK_EQ_INT(config_key_origin(&c, "interpolation"), CONFIG_FROM_FILE);
    config_free(&c);
    unsetenv("INFERD_CROP");
    CHECK_EQ_INT(LOAD(&c, err, "--crop", "100,150", "--resize=300, 400"), CONFIG_RUN);
    CHECK_EQ_INT(c.crop, 0);
    CHECK_EQ_INT(c.crop_hw[0], 100);
    CHECK_EQ_INT(c.crop_hw[1], 150);
    CHECK_EQ_INT(c.resize_hw[0], 300);
    CHECK_EQ_INT(c.resize_hw[1], 400);
    config_free(&c);
    CHECK_STR(config_origin_name(CONFIG_FROM_DEFAULT), "default");
    CHECK_STR(config_origin_name(CONFIG_FROM_FLAG), "flag");

    /* Refused forms. */
    static const char *const bad_flags[][2] = {
        {"--crop", "1,2,3"}, {"--crop", "0"}, {"--resize", "100,"}, {"--resize", ",5"},
        {"--resize", "x"},   {"--crop", "20000"}, {"--interpolation", "nearest"},
    };
    for (size_t i = 0; i < sizeof(bad_flags) / sizeof(bad_flags[0]); i++) {
        CHECK_MSG(LOAD(&c, err, bad_flags[i][0], bad_flags[i][1]) == CONFIG_EXIT_ERROR, "%s %s accepted",
                  bad_flags[i][0], bad_flags[i][1]);
        config_free(&c);
    }
    static const char *const bad_json[] = {
        "{\"resize\":[1,2,3]}", "{\"resize\":[]}", "{\"crop\":[224,\"x\"]}", "{\"crop\":\"224\"}",
        "{\"resize\":2.5}",     "{\"crop\":[0,5]}", "{\"interpolation\":\"lanczos\"}",
    };
    for (size_t i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
        config_defaults(&c);
        CHECK_MSG(APPLY(&c, bad_json[i], "t.json") == -1, "%s accepted", bad_json[i]);
        config_free(&c);
    }
    /* [n] is torchvision's Resize([n]): the shorter side. */
    config_defaults(&c);
    CHECK_EQ_INT(APPLY(&c, "{\"resize\":[232]}", "t.json"), 0);
    CHECK_EQ_INT(c.resize, 232);
    CHECK_EQ_INT(c.resize_hw[0], 0);
    config_free(&c);
    remove(path);
}

static void test_load_values(void) {
    char err[512];
    inferd_config c;

    /* Each key type through a flag. */
    CHECK_EQ_INT(LOAD(&c, err, "--optimize", "false", "--access-log=off", "--mean", "0.1,0.2,0.3", "--std=1,1,1",
                      "--precision", "bf16", "--max-pixels", "123456789012", "--addr", "::1", "--model-instances",
                      "2", "--class-index", "labels.json"),
                 CONFIG_RUN);
    CHECK_EQ_INT(c.optimize, 0);
    CHECK_EQ_INT(c.access_log, 0);
    CHECK_EQ_FLOAT(c.mean[0], 0.1);
    CHECK_EQ_FLOAT(c.mean[2], 0.3);
    CHECK_EQ_FLOAT(c.std[1], 1.0);
    CHECK_STR(c.precision, "bf16");
    CHECK_EQ_INT(c.max_pixels, 123456789012LL);
    CHECK_STR(c.addr, "::1");
    CHECK_EQ_INT(c.model_instances, 2);
    CHECK_STR(c.class_index_path, "labels.json");
    config_free(&c);

    /* Bad values, each an error naming where it came from. */
    CHECK_EQ_INT(LOAD(&c, err, "--port", "70000"), CONFIG_EXIT_ERROR);
    CHECK_CONTAINS(err, "port");
    config_free(&c);
    CHECK_EQ_INT(LOAD(&c, err, "--port", "50x"), CONFIG_EXIT_ERROR);
    CHECK_CONTAINS(err, "--port");
    config_free(&c);
    CHECK_EQ_INT(LOAD(&c, err, "--port="), CONFIG_EXIT_ERROR);
    config_free(&c);
    CHECK_EQ_INT(LOAD(&c, err, "--optimize", "maybe"), CONFIG_EXIT_ERROR);
    CHECK_CONTAINS(err, "optimize");
    config_free(&c);
    CHECK_EQ_INT(LOAD(&c, err, "--mean", "0.1,0.2"), CONFIG_EXIT_ERROR);
    CHECK_CONTAINS(err, "mean");
    config_free(&c);
    CHECK_EQ_INT(LOAD(&c, err, "--mean", "0.1,0.2,0.3,0.4"), CONFIG_EXIT_ERROR);
    config_free(&c);
    CHECK_EQ_INT(LOAD(&c, err, "--log-format", "xml"), CONFIG_EXIT_ERROR);
    CHECK_CONTAINS(err, "log_format");
    config_free(&c);
    CHECK_EQ_INT(LOAD(&c, err, "--std", "0.2,0,0.2"), CONFIG_EXIT_ERROR); /* validation */
    CHECK_CONTAINS(err, "std");
    config_free(&c);
    /* A flag missing its value. */
    CHECK_EQ_INT(LOAD(&c, err, "--port"), CONFIG_EXIT_ERROR);
    CHECK_CONTAINS(err, "--port");
    config_free(&c);
    CHECK_EQ_INT(LOAD(&c, err, "--config"), CONFIG_EXIT_ERROR);
    config_free(&c);

    /* Unknown flags name themselves; the JSON spelling with '_' is not a flag. */
    CHECK_EQ_INT(LOAD(&c, err, "--prot", "5000"), CONFIG_EXIT_ERROR);
    CHECK_CONTAINS(err, "--prot");
    config_free(&c);
    CHECK_EQ_INT(LOAD(&c, err, "--max_batch", "2"), CONFIG_EXIT_ERROR);
    CHECK_CONTAINS(err, "--max_batch");
    config_free(&c);
    CHECK_EQ_INT(LOAD(&c, err, "--portable=1"), CONFIG_EXIT_ERROR); /* a key's prefix is not enough */
    CHECK_CONTAINS(err, "--portable");
    config_free(&c);
    CHECK_EQ_INT(LOAD(&c, err, "stray"), CONFIG_EXIT_ERROR);
    CHECK_CONTAINS(err, "stray");
    config_free(&c);

    /* Bad environment values name the variable. */
    setenv("INFERD_PORT", "abc", 1);
    CHECK_EQ_INT(LOAD(&c, err, "--max-images", "1"), CONFIG_EXIT_ERROR);
    CHECK_CONTAINS(err, "INFERD_PORT");
    config_free(&c);
    unsetenv("INFERD_PORT");
    setenv("INFERD_MAX_BATCH", "3", 1);
    setenv("INFERD_LOG_FORMAT", "json", 1);
    CHECK_EQ_INT(LOAD(&c, err, "--max-images", "1"), CONFIG_RUN);
    CHECK_EQ_INT(c.max_batch, 3);
    CHECK_STR(c.log_format, "json");
    config_free(&c);
    unsetenv("INFERD_MAX_BATCH");
    unsetenv("INFERD_LOG_FORMAT");
}

static void test_check_config_and_help(void) {
    char err[512];
    inferd_config c;

    /* --check-config: exit OK, the resolved settings printed as JSON. */
    FILE *out = tmpfile();
    if (!CHECK_NOT_NULL(out)) return;
    config_action a =
        load_args(&c, out, err, sizeof(err), (const char *const[]){"--check-config", "--port", "7000", NULL});
    CHECK_EQ_INT(a, CONFIG_EXIT_OK);
    char *text = slurp(out);
    fclose(out);
    cJSON *printed = text ? cJSON_Parse(text) : NULL;
    if (CHECK_MSG(printed != NULL, "--check-config did not print JSON: %s", text ? text : "(nothing)")) {
        CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(printed, "port")), 7000);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(printed, "addr")), "0.0.0.0");
        CHECK_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(printed, "crop")), 224);
        CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(printed, "mean")), 3);
    }
    cJSON_Delete(printed);
    free(text);
    config_free(&c);

    /* --check-config still fails on a bad setting. */
    CHECK_EQ_INT(LOAD(&c, err, "--check-config", "--port", "-5"), CONFIG_EXIT_ERROR);
    config_free(&c);

    /* --version */
    out = tmpfile();
    if (!CHECK_NOT_NULL(out)) return;
    CHECK_EQ_INT(load_args(&c, out, err, sizeof(err), (const char *const[]){"--version", NULL}), CONFIG_EXIT_OK);
    text = slurp(out);
    fclose(out);
    CHECK_CONTAINS(text, "inferd");
    free(text);
    config_free(&c);

    /* --help lists every key as a flag and as a variable. */
    out = tmpfile();
    if (!CHECK_NOT_NULL(out)) return;
    CHECK_EQ_INT(load_args(&c, out, err, sizeof(err), (const char *const[]){"--help", NULL}), CONFIG_EXIT_OK);
    text = slurp(out);
    fclose(out);
    config_free(&c);
    static const char *const keys[][2] = {
        {"--addr", "INFERD_ADDR"},
        {"--port", "INFERD_PORT"},
        {"--http-threads", "INFERD_HTTP_THREADS"},
        {"--max-connections", "INFERD_MAX_CONNECTIONS"},
        {"--model", "INFERD_MODEL"},
        {"--class-index", "INFERD_CLASS_INDEX"},
        {"--threads", "INFERD_THREADS"},
        {"--model-instances", "INFERD_MODEL_INSTANCES"},
        {"--precision", "INFERD_PRECISION"},
        {"--max-batch", "INFERD_MAX_BATCH"},
        {"--batch-delay-us", "INFERD_BATCH_DELAY_US"},
        {"--queue-capacity", "INFERD_QUEUE_CAPACITY"},
        {"--resize", "INFERD_RESIZE"},
        {"--crop", "INFERD_CROP"},
        {"--mean", "INFERD_MEAN"},
        {"--std", "INFERD_STD"},
        {"--max-body-bytes", "INFERD_MAX_BODY_BYTES"},
        {"--max-pixels", "INFERD_MAX_PIXELS"},
        {"--max-images", "INFERD_MAX_IMAGES"},
        {"--log-format", "INFERD_LOG_FORMAT"},
        {"--access-log", "INFERD_ACCESS_LOG"},
        {"--config", "--check-config"},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        CHECK_CONTAINS(text, keys[i][0]);
        CHECK_CONTAINS(text, keys[i][1]);
    }
    /* Defaults are shown. */
    CHECK_CONTAINS(text, "5000");
    CHECK_CONTAINS(text, "0.0.0.0");
    free(text);

    /* Every documented flag in --help is accepted by config_load. */
    for (size_t i = 0; i + 1 < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *value = "1";
        const char *flag = keys[i][0];
        if (!strcmp(flag, "--addr")) value = "127.0.0.1";
        if (!strcmp(flag, "--model") || !strcmp(flag, "--class-index")) value = "x";
        if (!strcmp(flag, "--precision")) value = "fp32";
        if (!strcmp(flag, "--mean") || !strcmp(flag, "--std")) value = "1,1,1";
        if (!strcmp(flag, "--log-format")) value = "json";
        if (!strcmp(flag, "--resize")) value = "224";
        if (!strcmp(flag, "--crop")) value = "224";
        config_action r = load_args(&c, NULL, err, sizeof(err), (const char *const[]){flag, value, NULL});
        CHECK_MSG(r == CONFIG_RUN, "%s %s rejected: %s", flag, value, err);
        config_free(&c);
    }
}

/* model_name: a URL path segment, checked at start; the default comes from
 * the model file's metadata, else its stem. */
static void test_model_name(void) {
    inferd_config c;
    char err[256];
    config_defaults(&c);
    CHECK_STR(c.model_name, "");
    CHECK_EQ_INT(APPLY(&c, "{\"model_name\":\"my_classifier\"}", "n"), 0);
    CHECK_STR(c.model_name, "my_classifier");
    CHECK_EQ_INT(config_validate(&c, err, sizeof(err)), 0);
    const char *bad[] = {"a/b", "..", "with space", "x?y", "0123456789012345678901234567890123456789012345678901234567890123"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        free(c.model_name);
        c.model_name = strdup(bad[i]);
        CHECK_MSG(config_validate(&c, err, sizeof(err)) == -1, "model_name '%s' accepted", bad[i]);
    }
    config_free(&c);

    model_meta meta;
    char name[64];
    model_meta_parse("{\"arch\":\"resnet50\",\"weights\":\"pretrained\"}", &meta, NULL, 0);
    model_meta_default_name(&meta, "models/densenet121.pt", name, sizeof(name));
    CHECK_STR(name, "resnet50");
    model_meta_parse("", &meta, NULL, 0);
    model_meta_default_name(&meta, "/srv/models/my model.v2.pt", name, sizeof(name));
    CHECK_STR(name, "my_model");
    model_meta_default_name(&meta, "model.pt", name, sizeof(name));
    CHECK_STR(name, "model");
    model_meta_parse("{\"arch\":\"bad/arch\"}", &meta, NULL, 0);
    model_meta_default_name(&meta, "/x/y/classifier", name, sizeof(name));
    CHECK_STR(name, "classifier");
}

int main(void) {
    clear_inferd_env();
    snprintf(tmp_dir, sizeof(tmp_dir), "%s/inferd-test-config-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_dir) || chdir(tmp_dir) != 0) {
        perror("temporary directory");
        return 1;
    }
    test_defaults();
    test_apply_json();
    test_validate();
    test_model_name();
    test_load_precedence();
    test_sizes_and_origins();
    test_load_values();
    test_check_config_and_help();
    if (chdir("/") == 0) rmdir(tmp_dir);
    return check_summary();
}
