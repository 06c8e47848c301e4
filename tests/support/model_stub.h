/* Test hooks of the stub model (tests/support/model_stub.c), for tests that
 * need a forward to take a known time: the batcher's lone-request policy
 * chooses by measured forward times. Not part of include/model.h. */
#ifndef INFERD_MODEL_STUB_H
#define INFERD_MODEL_STUB_H

#include <stddef.h>

/* Each later forward run on threads intra-op threads sleeps us
 * microseconds (threads 1..8; 0 us = no sleep, the default). */
void model_stub_set_forward_delay(int threads, int us);
/* Threads that ran a forward on more than one thread and have not called
 * model_release_thread_team since: the OpenMP teams a real runtime keeps. */
int model_stub_threads_holding_teams(void);
/* Each later forward allocates bytes of "activations" in 1 MB blocks,
 * writes them and frees them, as a real model's forward does (0: none). */
void model_stub_set_forward_scratch(size_t bytes);

#endif
