#include "model_slot.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct model_slot {
    model_slot_options opts;
    pthread_mutex_t lock;        /* current and the statistics */
    pthread_mutex_t reload_lock; /* held for a whole reload; trylock -> busy */
    served_model *current;
    int reloading;
    long long reloads_ok, reloads_failed;
    char last_error[768];
};

int model_slot_create(const model_slot_options *opts, served_model *initial, model_slot **out, char *err,
                      size_t errlen) {
    *out = NULL;
    model_slot *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->opts = *opts;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->reload_lock, NULL);
    s->current = initial;
    if (initial->generation <= 0) initial->generation = 1;
    *out = s;
    return 0;
}

void model_slot_free(model_slot *s) {
    if (!s) return;
    served_model_release(s->current);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->reload_lock);
    free(s);
}

served_model *model_slot_acquire(model_slot *s) {
    pthread_mutex_lock(&s->lock);
    served_model *sm = s->current;
    served_model_acquire(sm);
    pthread_mutex_unlock(&s->lock);
    return sm;
}

static void record_failure(model_slot *s, const char *why) {
    pthread_mutex_lock(&s->lock);
    s->reloads_failed++;
    s->reloading = 0;
    snprintf(s->last_error, sizeof(s->last_error), "%s", why);
    pthread_mutex_unlock(&s->lock);
}

typedef struct {
    model_slot *slot;
    served_model *next;
    int rc;
    char why[768];
} load_job;

static void *load_main(void *arg) {
    load_job *j = arg;
    const model_slot_options *o = &j->slot->opts;
    j->rc = served_model_load(o->cfg, &o->model_opts, &j->next, j->why, sizeof(j->why));
    if (j->rc == 0) j->rc = served_model_warm(j->next, o->warmup_max_batch, o->warmup_rounds, o->warmup_lone_threads, j->why, sizeof(j->why));
    return NULL;
}

/* Loads and warms on a thread of its own: glibc gives it another malloc
 * arena than the one the serving model's weights live in, so when that
 * model is freed its arena's pages empty out and go back to the kernel
 * instead of staying pinned by the new model's allocations between them. */
static int load_next(model_slot *s, served_model **next, char *why, size_t whylen) {
    load_job j = {.slot = s, .next = NULL, .rc = -1, .why = ""};
    pthread_t t;
    if (pthread_create(&t, NULL, load_main, &j) != 0) {
        load_main(&j);
    } else {
        pthread_join(t, NULL);
    }
    *next = j.next;
    snprintf(why, whylen, "%s", j.why);
    return j.rc;
}

model_reload_status model_slot_reload(model_slot *s, const char *trigger, char *err, size_t errlen) {
    if (pthread_mutex_trylock(&s->reload_lock) != 0) {
        snprintf(err, errlen, "a model reload is already in progress");
        return MODEL_RELOAD_BUSY;
    }
    pthread_mutex_lock(&s->lock);
    s->reloading = 1;
    int generation = s->current->generation + 1;
    pthread_mutex_unlock(&s->lock);
    const inferd_config *cfg = s->opts.cfg;
    log_info("model reload (%s): loading %s with labels %s; the current model keeps serving", trigger,
             cfg->model_path, cfg->class_index_path);

    served_model *next = NULL;
    char why[768];
    if (load_next(s, &next, why, sizeof(why)) != 0) {
        served_model_release(next);
        snprintf(err, errlen, "model reload failed, the previous model keeps serving: %s", why);
        log_error("%s", err);
        record_failure(s, why);
        pthread_mutex_unlock(&s->reload_lock);
        return MODEL_RELOAD_FAILED;
    }
    next->generation = generation;

    pthread_mutex_lock(&s->lock);
    served_model *old = s->current;
    s->current = next;
    s->reloads_ok++;
    s->reloading = 0;
    s->last_error[0] = '\0';
    pthread_mutex_unlock(&s->lock);
    /* The reload is over once the swap is done: another may start while
     * the old model waits for its last requests. */
    pthread_mutex_unlock(&s->reload_lock);
    log_info("model reload (%s): now serving %s (%s, %d classes, generation %d; load %.2f s, warm-up %.2f s); "
             "preprocessing: %s",
             trigger, next->meta.name, next->meta.arch, next->num_classes, generation, next->load_seconds,
             next->warm_seconds, next->sources);
    /* Requests that started on the old model hold references: it is freed
     * when the last of them is answered. */
    old->on_freed = s->opts.replaced_model_freed;
    old->on_freed_arg = s->opts.replaced_model_freed_arg;
    served_model_release(old);
    return MODEL_RELOAD_OK;
}

void model_slot_get_stats(model_slot *s, model_slot_stats *out) {
    pthread_mutex_lock(&s->lock);
    out->generation = s->current->generation;
    out->reloading = s->reloading;
    out->reloads_ok = s->reloads_ok;
    out->reloads_failed = s->reloads_failed;
    out->load_seconds = s->current->load_seconds;
    out->warm_seconds = s->current->warm_seconds;
    snprintf(out->last_error, sizeof(out->last_error), "%s", s->last_error);
    pthread_mutex_unlock(&s->lock);
}
