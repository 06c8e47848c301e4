#define _GNU_SOURCE /* pthread_setname_np */
#include "work_pool.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct work_pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    work_item *head, *tail;
    int stopping;
    int nice;
    char name[16];
    int thread_count;
    pthread_t *threads;
};

static void *pool_main(void *arg) {
    work_pool *p = arg;
    pthread_setname_np(pthread_self(), p->name);
    util_lower_this_thread_priority(p->nice);
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->head && !p->stopping) pthread_cond_wait(&p->wake, &p->lock);
        work_item *item = p->head;
        if (!item) break; /* stopping and drained */
        p->head = item->next;
        if (!p->head) p->tail = NULL;
        pthread_mutex_unlock(&p->lock);
        item->run(item);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int work_pool_create(int threads, int nice, const char *name, work_pool **out, char *err, size_t errlen) {
    *out = NULL;
    if (threads < 1) {
        snprintf(err, errlen, "a work pool needs at least one thread");
        return -1;
    }
    work_pool *p = calloc(1, sizeof(*p));
    if (!p || !(p->threads = calloc((size_t)threads, sizeof(pthread_t)))) {
        free(p);
        snprintf(err, errlen, "out of memory creating the %s threads", name);
        return -1;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->nice = nice;
    snprintf(p->name, sizeof(p->name), "%s", name);
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, pool_main, p) != 0) {
            snprintf(err, errlen, "cannot start the %s threads", name);
            work_pool_stop(p);
            work_pool_free(p);
            return -1;
        }
        p->thread_count++;
    }
    *out = p;
    return 0;
}

int work_pool_submit(work_pool *p, work_item *item) {
    item->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->stopping) {
        pthread_mutex_unlock(&p->lock);
        return -1;
    }
    if (p->tail)
        p->tail->next = item;
    else
        p->head = item;
    p->tail = item;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void work_pool_stop(work_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->thread_count; i++) pthread_join(p->threads[i], NULL);
    p->thread_count = 0;
}

void work_pool_free(work_pool *p) {
    if (!p) return;
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->wake);
    free(p->threads);
    free(p);
}
