/* model: the C ABI over libtorch. Loads a TorchScript classifier once and runs
 * float32 NCHW batches through it (an int8 file quantizes its float input
 * itself; the shim selects the quantized engine the file names). All C++ (and every exception) stays inside
 * src/model.cpp; callers see status codes and messages. It knows nothing of
 * images, labels or HTTP. */
#ifndef INFERD_MODEL_H
#define INFERD_MODEL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct model model;

typedef enum {
    MODEL_PRECISION_FP32 = 0,
    MODEL_PRECISION_BF16 = 1,
    MODEL_PRECISION_INT8 = 2 /* a file exported with --quantize int8; precision must match the file */
} model_precision;

typedef struct {
    int intra_op_threads;     /* libtorch intra-op threads (process-wide); <= 0 leaves libtorch's default */
    int optimize;             /* freeze + optimize_for_inference after loading */
    model_precision precision;
    int input_channels;       /* expected input shape, for validation and warm-up */
    int input_height;
    int input_width;
} model_options;

void model_options_default(model_options *opts);

/* Loads path. On failure returns -1, *out is NULL and err says why, also
 * when opts->precision and the file disagree (int8 is a property of the file,
 * from its inferd_meta.json "precision") or when an int8 file needs a
 * quantized engine this libtorch lacks. */
int model_load(const char *path, const model_options *opts, model **out, char *err, size_t errlen);

/* Runs input [batch, C, H, W] (float32, contiguous) and writes [batch,
 * num_classes] logits. Several threads may call it at once on one model: the
 * optimized module is read-only at inference, so the server's workers share
 * one copy of the weights. Each call uses intra_op_threads of the calling
 * thread. */
int model_forward(model *m, const float *input, int batch, float *logits, char *err, size_t errlen);

/* model_forward with threads intra-op threads for this call and the calling
 * thread's later calls until another count is asked (<= 0: the model's
 * intra_op_threads). The count is the calling thread's own: a worker that
 * runs a lone request on both cores leaves the other workers at theirs. */
int model_forward_threads(model *m, const float *input, int batch, int threads, float *logits, char *err,
                          size_t errlen);

/* The intra-op thread count libtorch uses for the calling thread. */
int model_thread_count(void);
/* Lets go of the OpenMP threads the calling thread's multi-threaded forwards
 * started (they are kept per calling thread until it exits). With GNU
 * OpenMP, once a process holds more OpenMP threads than CPUs, every parallel
 * region sleeps and wakes on a futex instead of spinning: a 2-thread forward
 * then runs slower than a 1-thread one (measured: densenet121 fp32 batch 1,
 * 57 ms on 2 threads, 124 ms when another thread keeps a team of its own). A
 * thread that loads or warms a model and then stops forwarding calls this. */
void model_release_thread_team(void);
/* Empties oneDNN's kernel cache (the next forwards build their kernels
 * again). For when a reload has freed the model they were built for. */
void model_drop_kernel_cache(void);

/* Classes the model outputs (known after load: one probe forward). */
int model_num_classes(const model *m);

/* Reads only the inferd_meta.json extra file of the TorchScript archive at
 * path (not the weights): *out is a malloc'd string, "" when the file has
 * none; the caller frees it. -1 with err when path is not a readable
 * TorchScript archive. */
int model_read_metadata(const char *path, char **out, char *err, size_t errlen);

/* The inferd_meta.json extra file stored by scripts/export_model.py, or "" if absent. */
const char *model_metadata(const model *m);

/* The quantized engine an int8 model runs on ("onednn", "qnnpack"), "" for fp32/bf16. */
const char *model_quantized_engine(const model *m);

/* True when the CPU can run bf16 matrix kernels natively. */
int model_cpu_supports_bf16(void);

void model_free(model *m);

#ifdef __cplusplus
}
#endif

#endif
