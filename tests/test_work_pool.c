/* unit_work_pool: the decoder threads' pool. Every submitted task runs once,
 * on a pool thread (named, at the lowered priority), tasks queued before a
 * stop still run, and a stopped pool refuses new ones so the caller runs
 * them itself. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "work_pool.h"

typedef struct {
    work_item item;
    atomic_int *runs;
    int on_pool_thread;
    int nice_seen;
    char thread_name[16];
} counted_task;

static void count_run(work_item *item) {
    counted_task *t = (counted_task *)item;
    pthread_getname_np(pthread_self(), t->thread_name, sizeof(t->thread_name));
    t->on_pool_thread = strcmp(t->thread_name, "test-pool") == 0;
    t->nice_seen = getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
    atomic_fetch_add(t->runs, 1);
}

int main(void) {
    enum { TASKS = 64 };
    work_pool *p = NULL;
    char err[128];
    int base_nice = getpriority(PRIO_PROCESS, 0);
    if (!CHECK(work_pool_create(2, 5, "test-pool", &p, err, sizeof(err)) == 0)) return check_summary();
    atomic_int runs = 0;
    counted_task *tasks = calloc(TASKS, sizeof(*tasks));
    if (!CHECK(tasks != NULL)) return check_summary();
    for (int i = 0; i < TASKS; i++) {
        tasks[i].item.run = count_run;
        tasks[i].runs = &runs;
        CHECK_EQ_INT(work_pool_submit(p, &tasks[i].item), 0);
    }
    work_pool_stop(p); /* runs what is queued, then joins */
    CHECK_EQ_INT(atomic_load(&runs), TASKS);
    int on_pool = 0, lowered = 0;
    for (int i = 0; i < TASKS; i++) {
        on_pool += tasks[i].on_pool_thread;
        lowered += tasks[i].nice_seen == (base_nice + 5 > 19 ? 19 : base_nice + 5);
    }
    CHECK_EQ_INT(on_pool, TASKS);
    CHECK_EQ_INT(lowered, TASKS);
    CHECK_EQ_INT(getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid)), base_nice); /* the caller's is its own */

    counted_task late = {.item.run = count_run, .runs = &runs};
    CHECK_EQ_INT(work_pool_submit(p, &late.item), -1);
    CHECK_EQ_INT(atomic_load(&runs), TASKS);
    work_pool_free(p);

    CHECK(work_pool_create(0, 0, "none", &p, err, sizeof(err)) == -1 && p == NULL && err[0]);
    free(tasks);
    return check_summary();
}
