/* Log-probabilities of one row of logits: the chosen token's and the top k, what an
 * OpenAI-compatible server returns with "logprobs" (and vLLM's prompt logprobs). */
#include <math.h>

#include "urial/generate.h"

double ur_logprobs_row(const float *logits, int nv, int32_t token, int k, int32_t *top_ids, float *top_lps) {
    float mx = logits[0];
    for (int i = 1; i < nv; i++)
        if (logits[i] > mx) mx = logits[i];
    double sum = 0;
    for (int i = 0; i < nv; i++) sum += exp((double)logits[i] - mx);
    const double lse = mx + log(sum);
    if (k > nv) k = nv;
    if (k > 0) {
        /* insertion into a sorted list of k; ids arrive in increasing order, so a
         * strict > keeps the lower id first on ties */
        int n = 0;
        for (int i = 0; i < nv; i++) {
            const float x = logits[i];
            if (n == k && !(x > logits[top_ids[n - 1]])) continue;
            int j = n < k ? n++ : k - 1;
            while (j > 0 && x > logits[top_ids[j - 1]]) {
                top_ids[j] = top_ids[j - 1];
                j--;
            }
            top_ids[j] = i;
        }
        for (int j = 0; j < k; j++) top_lps[j] = (float)((double)logits[top_ids[j]] - lse);
    }
    return token >= 0 && token < nv ? (double)logits[token] - lse : 0;
}
