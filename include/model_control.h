/* model_control: the admin door to the model repository, Triton's
 * model-repository extension: POST /v2/repository/index lists the model
 * and its state; POST /v2/repository/models/{name}/load reloads the model
 * file and labels from their configured paths (a client cannot name a
 * path). Shut by default (like Triton's --model-control-mode=none): every
 * route answers 403 until model_control is "explicit". When a token is
 * configured, a request needs "Authorization: Bearer <token>" (401 without
 * it, 403 with a wrong one; compared in constant time). Reloads are
 * serialised by model_slot (a second one while one runs: 409). It owns the
 * routing, authorisation and JSON of these routes, not the transport (the
 * HTTP front end passes method, path and the Authorization header in, and
 * sends the answer out) nor the reload itself (model_slot). */
#ifndef INFERD_MODEL_CONTROL_H
#define INFERD_MODEL_CONTROL_H

#include <stddef.h>

#include "model_slot.h"

typedef struct {
    int enabled;       /* model_control == "explicit" */
    const char *token; /* "" or NULL: no token required */
    model_slot *slot;
    const char *name;  /* the model's name on the v2 API (model_name), fixed across reloads; NULL: the file's */
} model_control;

/* 1 when path belongs to the model-control routes (/v2/repository...),
 * else 0 (not handled here). */
int model_control_owns(const char *path);

typedef struct {
    int status;              /* HTTP status */
    char *body;              /* malloc'd JSON (free()), NULL when out of memory */
    const char *www_authenticate; /* non-NULL: send as WWW-Authenticate (401) */
    const char *allow;            /* non-NULL: send as Allow (405) */
} model_control_response;

/* Answers one request on a model-control route. authorization is the
 * Authorization header or NULL. A load blocks for the reload. */
void model_control_handle(const model_control *mc, const char *method, const char *path, const char *authorization,
                          model_control_response *out);

/* Constant-time equality of a secret and a candidate (time depends only on
 * the secret's length). */
int model_control_token_equal(const char *secret, const char *candidate);

#endif
