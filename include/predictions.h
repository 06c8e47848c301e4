/* predictions: from logits to ranked classes (argmax, softmax, top-k).
 * Pure arithmetic; names come from labels, JSON from response. */
#ifndef INFERD_PREDICTIONS_H
#define INFERD_PREDICTIONS_H

typedef struct {
    int index;
    float logit;
    double probability; /* softmax over all classes */
} prediction;

/* Index of the largest logit; the first one on ties (like torch.argmax). */
int predictions_argmax(const float *logits, int count);

/* The k best classes, descending by logit (ties: lower index first), with
 * softmax probabilities. Returns how many were written: min(k, count). */
int predictions_topk(const float *logits, int count, int k, prediction *out);

#endif
