/* config: every setting of inferd, its default, and where it can come from.
 * One table describes each key once; from it come config.json parsing,
 * INFERD_* environment variables, --command-line flags and --help. The
 * precedence is flag > environment > file > default. Nothing here starts or
 * loads anything. */
#ifndef INFERD_CONFIG_H
#define INFERD_CONFIG_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
    /* network */
    char *addr;
    int port;
    int http_threads;
    int http_nice;        /* niceness added to the libmicrohttpd threads (the model workers keep the process's) */
    int decode_nice;      /* niceness added to the decoder threads */
    int max_connections;
    int connection_timeout_s;
    /* model */
    char *model_path;
    char *model_name;     /* the v2 API's model name; "" = from the model file */
    char *class_index_path;
    int threads;          /* libtorch intra-op threads per model instance */
    int lone_request_threads; /* intra-op threads for a lone request (0 = online CPUs) */
    int model_instances;  /* independent model copies, each with its own worker */
    char *precision;      /* "fp32", "bf16" or "int8" */
    int optimize;         /* freeze + optimize_for_inference at load */
    int warmup;           /* warm-up forwards before ready */
    /* batching */
    int max_batch;
    int batch_delay_us;
    int queue_capacity;
    int request_timeout_ms; /* 0: automatic, see batcher_queue_deadline_ns */
    /* preprocessing (defaults come from the model file when it says; see
     * model_meta_resolve) */
    int resize;           /* Resize(n): shorter side; 0 when resize_hw is set */
    int resize_hw[2];     /* Resize([h, w]); 0, 0 when resize is set. Must follow resize. */
    int crop;             /* CenterCrop(n); 0 when crop_hw is not square */
    int crop_hw[2];       /* CenterCrop([h, w]), always set. Must follow crop. */
    char *interpolation;  /* "bilinear" or "bicubic" */
    double mean[3];
    double std[3];
    /* limits */
    int64_t max_body_bytes;
    int64_t max_pixels;
    int max_images;
    int exif_orientation; /* apply EXIF orientation before resizing (PIL's exif_transpose) */
    int drain_timeout_s;
    /* logging */
    char *log_format;     /* "plain" or "json" */
    int access_log;
    char *static_dir;     /* serve the browser page from here instead of the built-in copy */
    /* model control (reload over HTTP) */
    char *model_control;    /* "none" (default: the door is shut) or "explicit" */
    char *admin_token;      /* "" = none; else "Authorization: Bearer <token>" is required */
    char *admin_token_file; /* read admin_token from this file (first line) when admin_token is empty */
    char *admin_addr;       /* "" = the model-control routes are on the public listener */
    int admin_port;         /* with admin_addr: their own listener (0 picks a free port) */
    /* where each key's value came from, by key (config_key_origin) */
    unsigned char origins[64];
} inferd_config;

typedef enum {
    CONFIG_FROM_DEFAULT = 0, /* nobody set it: a model file's metadata may still supply it */
    CONFIG_FROM_FILE,
    CONFIG_FROM_ENV,
    CONFIG_FROM_FLAG
} config_origin;

/* Where key's current value came from (CONFIG_FROM_DEFAULT for unknown keys). */
config_origin config_key_origin(const inferd_config *cfg, const char *key);
/* "default", "config file", "environment", "flag". */
const char *config_origin_name(config_origin origin);

typedef enum {
    CONFIG_RUN = 0,        /* configuration is complete: start */
    CONFIG_EXIT_OK,        /* --help / --version / --check-config done */
    CONFIG_EXIT_ERROR      /* a bad setting; err says which */
} config_action;

void config_defaults(inferd_config *cfg);
void config_free(inferd_config *cfg);

/* Fills cfg from the defaults, the config file (--config PATH, else
 * ./config.json if present), INFERD_* variables and argv. */
config_action config_load(inferd_config *cfg, int argc, char **argv, FILE *out, char *err, size_t errlen);

/* Applies one JSON document (the config file's content). */
int config_apply_json(inferd_config *cfg, const char *json, size_t len, const char *origin, char *err,
                      size_t errlen);

/* Final cross-key validation (ranges, enums). */
int config_validate(const inferd_config *cfg, char *err, size_t errlen);

void config_print_help(FILE *out, const char *program);

/* CPUs this process may use (affinity mask, capped by a cgroup v2 CPU
 * quota), for "0 = auto" settings. */
int config_online_cpus(void);

#endif
