/* test_model_slot: model_slot.h + served_model.h + the batcher's per-job
 * model, with two real seeded models of different architectures and
 * preprocessing (argv[1] efficientnet_b0: bicubic 256/224; argv[2] resnet18:
 * [256, 320]/224x288) and the ImageNet class index (argv[3]). Under
 * continuous submissions from two threads, a reload swaps A for B: every
 * job completes, each answer equals its own model's reference logits bit
 * for bit, jobs started on A after the swap still finish on A. Then: a
 * concurrent second reload is refused as busy; a corrupt file, a missing
 * file and a label file of the wrong length fail and leave B serving, with
 * the error kept in the statistics. The busy case also through
 * model_control: 409 and state LOADING. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batcher.h"
#include "check.h"
#include "model_control.h"
#include "model_slot.h"

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
} waiter;

static void job_done(batch_job *job) {
    waiter *w = job->user;
    pthread_mutex_lock(&w->lock);
    w->done = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Reference logits of the deterministic input of each generation. */
typedef struct {
    float *logits;
    int classes;
    served_model *sm; /* a reference held by the test */
} reference;

static reference refs[3];
static pthread_mutex_t refs_lock = PTHREAD_MUTEX_INITIALIZER;

static void fill_input(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
}

static const reference *reference_for(served_model *sm) {
    pthread_mutex_lock(&refs_lock);
    reference *r = &refs[sm->generation];
    if (!r->logits) {
        float *x = malloc(sizeof(float) * sm->tensor_len);
        r->logits = malloc(sizeof(float) * (size_t)sm->num_classes);
        char err[256];
        fill_input(x, sm->tensor_len);
        if (model_forward(sm->model, x, 1, r->logits, err, sizeof(err)) != 0) fprintf(stderr, "%s\n", err);
        r->classes = sm->num_classes;
        served_model_acquire(sm);
        r->sm = sm;
        free(x);
    }
    pthread_mutex_unlock(&refs_lock);
    return r;
}

typedef struct {
    model_slot *slot;
    batcher *batcher;
    volatile int stop;
    int jobs[3], wrong, failed;
} load_state;

static void *submitter(void *arg) {
    load_state *st = arg;
    while (!st->stop) {
        served_model *sm = model_slot_acquire(st->slot);
        const reference *ref = reference_for(sm);
        float *x = malloc(sizeof(float) * sm->tensor_len), *logits = malloc(sizeof(float) * (size_t)sm->num_classes);
        fill_input(x, sm->tensor_len);
        waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
        batch_job job = {.input = x, .logits = logits, .done = job_done, .user = &w, .model = sm->model,
                         .tensor_len = sm->tensor_len, .num_classes = sm->num_classes};
        if (batcher_submit(st->batcher, &job) == BATCHER_SUBMITTED) {
            pthread_mutex_lock(&w.lock);
            while (!w.done) pthread_cond_wait(&w.cond, &w.lock);
            pthread_mutex_unlock(&w.lock);
            __atomic_add_fetch(&st->jobs[sm->generation], 1, __ATOMIC_RELAXED);
            if (job.status != BATCH_JOB_OK)
                __atomic_add_fetch(&st->failed, 1, __ATOMIC_RELAXED);
            else if (memcmp(logits, ref->logits, sizeof(float) * (size_t)ref->classes) != 0)
                __atomic_add_fetch(&st->wrong, 1, __ATOMIC_RELAXED);
        } else {
            __atomic_add_fetch(&st->failed, 1, __ATOMIC_RELAXED);
        }
        free(x);
        free(logits);
        served_model_release(sm);
    }
    return NULL;
}

typedef struct {
    model_slot *slot;
    model_reload_status status;
    char err[1024];
} reload_call;

static void *reload_thread(void *arg) {
    reload_call *c = arg;
    c->status = model_slot_reload(c->slot, "test thread", c->err, sizeof(c->err));
    return NULL;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL_A MODEL_B CLASS_INDEX\n", argv[0]);
        return 2;
    }
    char err[1024];
    inferd_config cfg;
    config_defaults(&cfg);
    free(cfg.model_path);
    free(cfg.class_index_path);
    cfg.model_path = strdup(argv[1]);
    cfg.class_index_path = strdup(argv[3]);
    model_options mo;
    model_options_default(&mo);
    mo.intra_op_threads = 1;

    served_model *a = NULL;
    if (!CHECK_MSG(served_model_load(&cfg, &mo, &a, err, sizeof(err)) == 0, "load A: %s", err)) return check_summary();
    CHECK_EQ_INT(a->num_classes, 1000);
    CHECK_EQ_INT(a->preprocess_config.interpolation, PREPROCESS_BICUBIC);
    CHECK_EQ_INT(a->preprocess_config.resize_short, 256);
    CHECK_CONTAINS(a->sources, "interpolation bicubic (model file)");
    CHECK_EQ_INT(a->tensor_len, 3 * 224 * 224);
    CHECK_EQ_INT(served_model_warm(a, 1, 1, 0, err, sizeof(err)), 0);

    model_slot_options so = {.cfg = &cfg, .model_opts = mo, .warmup_max_batch = 1, .warmup_rounds = 1};
    model_slot *slot = NULL;
    if (!CHECK_EQ_INT(model_slot_create(&so, a, &slot, err, sizeof(err)), 0)) return check_summary();
    batcher_options bo = {.max_batch = 1, .batch_delay_us = 0, .queue_capacity = 64, .warmup_rounds = 0};
    batcher *b = NULL;
    model *workers[2] = {a->model, a->model};
    if (!CHECK_EQ_INT(batcher_create(workers, 2, &bo, a->tensor_len, a->num_classes, &b, err, sizeof(err)), 0))
        return check_summary();

    load_state st = {.slot = slot, .batcher = b};
    pthread_t threads[2];
    for (int i = 0; i < 2; i++) pthread_create(&threads[i], NULL, submitter, &st);
    sleep_ms(700);

    /* Swap A (efficientnet_b0, 224x224) for B (resnet18, 224x288) under load. */
    free(cfg.model_path);
    cfg.model_path = strdup(argv[2]);
    model_reload_status rs = model_slot_reload(slot, "test", err, sizeof(err));
    CHECK_MSG(rs == MODEL_RELOAD_OK, "reload to B: %d %s", rs, err);
    sleep_ms(700);
    st.stop = 1;
    for (int i = 0; i < 2; i++) pthread_join(threads[i], NULL);
    CHECK_MSG(st.jobs[1] > 0 && st.jobs[2] > 0, "jobs on A %d, on B %d", st.jobs[1], st.jobs[2]);
    CHECK_EQ_INT(st.failed, 0);
    CHECK_EQ_INT(st.wrong, 0);

    served_model *now = model_slot_acquire(slot);
    CHECK_EQ_INT(now->generation, 2);
    CHECK_EQ_INT(now->tensor_len, 3 * 224 * 288);
    CHECK_EQ_INT(now->preprocess_config.resize_width, 320);
    CHECK_EQ_INT(now->preprocess_config.crop_width, 288);
    CHECK(now->load_seconds > 0 && now->warm_seconds > 0);
    served_model_release(now);

    /* A second reload while one runs: busy. */
    reload_call first = {.slot = slot};
    pthread_t t;
    pthread_create(&t, NULL, reload_thread, &first);
    model_slot_stats stats;
    for (int i = 0; i < 2000; i++) {
        model_slot_get_stats(slot, &stats);
        if (stats.reloading) break;
        sleep_ms(1);
    }
    CHECK_MSG(stats.reloading, "the first reload never showed as running");
    CHECK_EQ_INT(model_slot_reload(slot, "test", err, sizeof(err)), MODEL_RELOAD_BUSY);
    CHECK_CONTAINS(err, "in progress");
    /* The same through the model-control route: 409, and the index says LOADING. */
    model_control mc = {.enabled = 1, .token = "", .slot = slot};
    model_control_response r;
    served_model *cur = model_slot_acquire(slot);
    char load_path[200];
    snprintf(load_path, sizeof(load_path), "/v2/repository/models/%s/load", cur->meta.name);
    served_model_release(cur);
    model_control_handle(&mc, "POST", load_path, NULL, &r);
    CHECK_MSG(r.status == 409, "concurrent load: %d %s", r.status, r.body ? r.body : "");
    free(r.body);
    model_control_handle(&mc, "POST", "/v2/repository/index", NULL, &r);
    CHECK_CONTAINS(r.body ? r.body : "", "LOADING");
    free(r.body);
    pthread_join(t, NULL);
    CHECK_MSG(first.status == MODEL_RELOAD_OK, "first reload: %s", first.err);

    /* Failures leave the model serving. */
    char dir[] = "/tmp/inferd-slot-XXXXXX", corrupt[600], labels3[600];
    if (CHECK_NOT_NULL(mkdtemp(dir))) {
        snprintf(corrupt, sizeof(corrupt), "%s/corrupt.pt", dir);
        snprintf(labels3, sizeof(labels3), "%s/three.txt", dir);
        FILE *f = fopen(corrupt, "wb");
        fputs("PK\003\004 this is not a TorchScript archive", f);
        fclose(f);
        f = fopen(labels3, "wb");
        fputs("a\nb\nc\n", f);
        fclose(f);
        const char *cases[][3] = {{corrupt, argv[3], corrupt}, {"/nonexistent/m.pt", argv[3], "/nonexistent/m.pt"},
                                  {argv[1], labels3, "3"}};
        for (int i = 0; i < 3; i++) {
            free(cfg.model_path);
            free(cfg.class_index_path);
            cfg.model_path = strdup(cases[i][0]);
            cfg.class_index_path = strdup(cases[i][1]);
            err[0] = '\0';
            CHECK_EQ_INT(model_slot_reload(slot, "test", err, sizeof(err)), MODEL_RELOAD_FAILED);
            CHECK_CONTAINS(err, cases[i][2]);
            CHECK_CONTAINS(err, "previous model keeps serving");
            model_slot_get_stats(slot, &stats);
            CHECK_EQ_INT(stats.generation, 3);
            CHECK_EQ_INT(stats.reloads_failed, i + 1);
            CHECK(stats.last_error[0] != '\0');
        }
        remove(corrupt);
        remove(labels3);
        rmdir(dir);
    }
    model_slot_get_stats(slot, &stats);
    CHECK_EQ_INT(stats.reloads_ok, 2);
    served_model *still = model_slot_acquire(slot);
    CHECK_EQ_INT(still->tensor_len, 3 * 224 * 288);
    served_model_release(still);

    batcher_stop(b);
    batcher_free(b);
    model_slot_free(slot);
    for (int i = 0; i < 3; i++) {
        free(refs[i].logits);
        served_model_release(refs[i].sm);
    }
    config_free(&cfg);
    return check_summary();
}
