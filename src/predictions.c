#include "predictions.h"

#include <math.h>

int predictions_argmax(const float *logits, int count) {
    int best = 0;
    for (int i = 1; i < count; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

int predictions_topk(const float *logits, int count, int k, prediction *out) {
    if (k > count) k = count;
    if (k <= 0) return 0;
    double max = logits[predictions_argmax(logits, count)];
    double sum = 0.0;
    for (int i = 0; i < count; i++) sum += exp((double)logits[i] - max);
    /* k is small (<= 1000) and count is 1000: a bounded insertion into the
     * sorted prefix is simpler than a heap and fast enough. */
    int filled = 0;
    for (int i = 0; i < count; i++) {
        float v = logits[i];
        if (filled == k && !(v > out[k - 1].logit)) continue;
        int pos = filled < k ? filled++ : k - 1;
        while (pos > 0 && v > out[pos - 1].logit) {
            out[pos] = out[pos - 1];
            pos--;
        }
        out[pos].index = i;
        out[pos].logit = v;
    }
    for (int j = 0; j < k; j++) out[j].probability = exp((double)out[j].logit - max) / sum;
    return k;
}
