// The libtorch shim: the only C++ translation unit. Every entry point catches
// every exception and turns it into a status + message, so nothing unwinds
// into C frames.
#include "model.h"

#include <torch/script.h>
#include <torch/torch.h>
#include <ATen/Parallel.h>
#include <ATen/Context.h>
#include <caffe2/serialize/inline_container.h>

#include <cJSON.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

struct model {
    torch::jit::Module module;
    model_options opts;
    int num_classes = 0;
    std::string metadata;
    std::string quantized_engine;
};

static void set_error(char *err, size_t errlen, const char *prefix, const char *what) {
    if (!err || !errlen) return;
    // libtorch messages carry multi-line C++ backtraces; the first line is the reason.
    std::string msg(what ? what : "unknown error");
    size_t nl = msg.find('\n');
    if (nl != std::string::npos) msg.resize(nl);
    std::snprintf(err, errlen, "%s: %s", prefix, msg.c_str());
}

extern "C" void model_options_default(model_options *opts) {
    opts->intra_op_threads = 0;
    opts->optimize = 1;
    opts->precision = MODEL_PRECISION_FP32;
    opts->input_channels = 3;
    opts->input_height = 224;
    opts->input_width = 224;
}

extern "C" int model_cpu_supports_bf16(void) {
    // The kernel advertises AVX512-BF16 (or AMX) in /proc/cpuinfo's flags.
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("flags", 0) == 0)
            return line.find(" avx512_bf16") != std::string::npos || line.find(" amx_bf16") != std::string::npos;
    }
    return 0;
}

// The inferd_meta.json record alone, read before the module is: an int8
// file's packed weights are unpacked for the quantized engine in force when
// torch::jit::load runs, so the engine must be chosen first. "" when absent;
// false when the file is no readable archive (torch::jit::load then reports
// what is wrong with it).
// Throws what PyTorchStreamReader throws for a file that is no archive.
static std::string read_archive_metadata(const char *path) {
    caffe2::serialize::PyTorchStreamReader reader{std::string(path)};
    std::string json;
    if (!reader.hasRecord("extra/inferd_meta.json")) return json;
    at::DataPtr data;
    size_t size = 0;
    std::tie(data, size) = reader.getRecord("extra/inferd_meta.json");
    json.assign(static_cast<const char *>(data.get()), size);
    return json;
}

static bool archive_metadata(const char *path, std::string *out) {
    out->clear();
    try {
        *out = read_archive_metadata(path);
        return true;
    } catch (...) {
        return false;
    }
}

static std::string json_string(const std::string &json, const char *key) {
    cJSON *root = cJSON_Parse(json.c_str());
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    std::string out = cJSON_IsString(v) ? v->valuestring : "";
    cJSON_Delete(root);
    return out;
}

static const struct {
    const char *name;
    at::QEngine engine;
} quantized_engines[] = {{"onednn", at::kONEDNN}, {"qnnpack", at::kQNNPACK}, {"fbgemm", at::kFBGEMM}, {"x86", at::kX86}};

// Checks the file's precision against opts and, for int8, makes its engine
// the process's quantized engine (a process-wide libtorch setting: one
// process serves one int8 engine). Returns "" or the reason it cannot.
static std::string select_precision(const char *path, const model_options *opts, std::string *engine_out) {
    std::string meta;
    if (!archive_metadata(path, &meta)) return "";
    std::string file_precision = json_string(meta, "precision");
    bool file_int8 = file_precision == "int8";
    if (opts->precision == MODEL_PRECISION_INT8 && !file_int8)
        return "precision int8 needs a model exported with scripts/export_model.py --quantize int8; this file is " +
               (file_precision.empty() ? std::string("fp32") : file_precision);
    if (opts->precision != MODEL_PRECISION_INT8 && file_int8)
        return "this file is an int8-quantized model: serve it with precision int8";
    if (!file_int8) return "";
    std::string engine = json_string(meta, "quantized_engine");
    if (engine.empty()) return "int8 model file names no quantized_engine in its inferd_meta.json";
    std::string have;
    for (at::QEngine e : at::globalContext().supportedQEngines()) {
        for (const auto &known : quantized_engines) {
            if (known.engine != e) continue;
            if (engine == known.name) {
                at::globalContext().setQEngine(e);
                *engine_out = engine;
                return "";
            }
            have += (have.empty() ? "" : ", ") + std::string(known.name);
        }
    }
    return "int8 model needs the " + engine + " quantized engine, which this libtorch lacks (it has: " +
           (have.empty() ? std::string("none") : have) + ")";
}

static at::Tensor run(model *m, const at::Tensor &input, int threads) {
    // libtorch's intra-op thread count is per calling thread (an OpenMP
    // setting, bench/model_bench --thread-scope): a worker thread that never
    // set it would run with the default, and one worker's lone-request boost
    // does not change its neighbours' count.
    thread_local int threads_set = 0;
    if (threads <= 0) threads = m->opts.intra_op_threads;
    if (threads > 0 && threads_set != threads) {
        at::set_num_threads(threads);
        threads_set = threads;
    }
    torch::NoGradGuard no_grad;
    at::Tensor x = input;
    if (m->opts.precision == MODEL_PRECISION_BF16) x = x.to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
    std::vector<torch::jit::IValue> inputs{x};
    at::Tensor out = m->module.forward(inputs).toTensor();
    return out.to(at::kFloat).contiguous();
}

extern "C" int model_load(const char *path, const model_options *opts, model **out, char *err, size_t errlen) {
    *out = nullptr;
    model *m = nullptr;
    try {
        m = new model();
        m->opts = *opts;
        if (opts->intra_op_threads > 0) at::set_num_threads(opts->intra_op_threads);
        if (opts->precision == MODEL_PRECISION_BF16 && !model_cpu_supports_bf16()) {
            set_error(err, errlen, "model", "precision bf16 needs a CPU with AVX512-BF16 or AMX; this one has neither");
            delete m;
            return -1;
        }
        std::string why = select_precision(path, opts, &m->quantized_engine);
        if (!why.empty()) {
            set_error(err, errlen, path, why.c_str());
            delete m;
            return -1;
        }
        torch::jit::ExtraFilesMap extra{{"inferd_meta.json", ""}};
        m->module = torch::jit::load(path, at::kCPU, extra);
        m->metadata = extra["inferd_meta.json"];
        m->module.eval();
        if (opts->precision == MODEL_PRECISION_BF16) m->module.to(at::kBFloat16);
        if (opts->optimize) {
            // Not saved by the export script: optimize_for_inference's output
            // cannot be serialised and reloaded, so it is applied here. It moves
            // every convolution to oneDNN, which at batch < 16 is far faster.
            m->module = torch::jit::optimize_for_inference(m->module);
        }
        // One probe forward: validates the input shape and learns the class count.
        at::Tensor probe = torch::zeros({1, opts->input_channels, opts->input_height, opts->input_width});
        at::Tensor logits = run(m, probe, 0);
        if (logits.dim() != 2 || logits.size(0) != 1) {
            set_error(err, errlen, "model", "output is not a [batch, classes] tensor");
            delete m;
            return -1;
        }
        m->num_classes = (int)logits.size(1);
        // The loading thread (main, or a reload's) forwards no more.
        model_release_thread_team();
    } catch (const std::exception &e) {
        set_error(err, errlen, path, e.what());
        delete m;
        return -1;
    } catch (...) {
        set_error(err, errlen, path, "unknown C++ exception");
        delete m;
        return -1;
    }
    *out = m;
    return 0;
}

extern "C" int model_read_metadata(const char *path, char **out, char *err, size_t errlen) {
    *out = nullptr;
    try {
        // Only the zip's directory and one small record are read: the server
        // needs the preprocessing (and so the input size) before loading.
        std::string json = read_archive_metadata(path);
        char *copy = static_cast<char *>(std::malloc(json.size() + 1));
        if (!copy) {
            set_error(err, errlen, path, "out of memory");
            return -1;
        }
        std::memcpy(copy, json.data(), json.size());
        copy[json.size()] = '\0';
        *out = copy;
        return 0;
    } catch (const std::exception &e) {
        set_error(err, errlen, path, e.what());
        return -1;
    } catch (...) {
        set_error(err, errlen, path, "unknown C++ exception");
        return -1;
    }
}

extern "C" int model_forward(model *m, const float *input, int batch, float *logits, char *err, size_t errlen) {
    return model_forward_threads(m, input, batch, 0, logits, err, errlen);
}

extern "C" int model_forward_threads(model *m, const float *input, int batch, int threads, float *logits, char *err,
                                     size_t errlen) {
    try {
        if (batch <= 0) {
            set_error(err, errlen, "model", "batch must be positive");
            return -1;
        }
        at::Tensor x = torch::from_blob(const_cast<float *>(input),
                                        {batch, m->opts.input_channels, m->opts.input_height, m->opts.input_width},
                                        at::kFloat);
        at::Tensor out = run(m, x, threads);
        if (out.dim() != 2 || out.size(0) != batch || out.size(1) != m->num_classes) {
            set_error(err, errlen, "model", "unexpected output shape");
            return -1;
        }
        std::memcpy(logits, out.data_ptr<float>(), sizeof(float) * (size_t)batch * (size_t)m->num_classes);
        return 0;
    } catch (const std::exception &e) {
        set_error(err, errlen, "model forward", e.what());
        return -1;
    } catch (...) {
        set_error(err, errlen, "model forward", "unknown C++ exception");
        return -1;
    }
}

extern "C" int model_num_classes(const model *m) { return m->num_classes; }

extern "C" int model_thread_count(void) {
    try {
        return at::get_num_threads();
    } catch (...) {
        return -1;
    }
}

extern "C" void model_release_thread_team(void) {
    // omp_pause_resource_all (OpenMP 5.0) frees the calling thread's pool in
    // libgomp. Looked up at run time: libtorch brings the OpenMP runtime, and
    // a runtime without it just keeps its threads.
    using pause_fn = int (*)(int);
    static pause_fn pause_all = reinterpret_cast<pause_fn>(dlsym(RTLD_DEFAULT, "omp_pause_resource_all"));
    const int omp_pause_soft = 1;
    if (pause_all) pause_all(omp_pause_soft);
}

extern "C" void model_drop_kernel_cache(void) {
    // oneDNN's primitive cache (fp32/bf16 convolutions) keeps kernels for
    // shapes of models long freed. Looked up at run time: libdnnl comes
    // with libtorch, not linked by us.
    using capacity_get_fn = int (*)(int *);
    using capacity_set_fn = int (*)(int);
    static capacity_get_fn get_capacity =
        reinterpret_cast<capacity_get_fn>(dlsym(RTLD_DEFAULT, "dnnl_get_primitive_cache_capacity"));
    static capacity_set_fn set_capacity =
        reinterpret_cast<capacity_set_fn>(dlsym(RTLD_DEFAULT, "dnnl_set_primitive_cache_capacity"));
    int capacity = 0;
    if (!get_capacity || !set_capacity || get_capacity(&capacity) != 0) return;
    set_capacity(0);
    set_capacity(capacity);
}

extern "C" const char *model_metadata(const model *m) { return m->metadata.c_str(); }

extern "C" const char *model_quantized_engine(const model *m) { return m->quantized_engine.c_str(); }

extern "C" void model_free(model *m) {
    try {
        delete m;
    } catch (...) {
    }
}
