/* Small conveniences over ur_tokenize shared by every module that tokenizes. */
#include <stdlib.h>

#include "urial/tokenizer.h"

int ur_tokenize_alloc(const ur_vocab *v, const char *text, size_t len, int add_bos, int parse_special, int32_t **out,
                      ur_err *err) {
    /* a guess that fits most texts (Llama-type vocabularies average > 3 bytes a token),
     * else exactly what the first pass counted */
    int cap = (int)(len < (1u << 20) ? len / 2 : (1u << 19)) + 8;
    for (;;) {
        int32_t *ids = ur_xmalloc(sizeof *ids * (size_t)cap);
        int n = ur_tokenize(v, text, len, add_bos, parse_special, ids, cap, err);
        if (n >= 0 && n <= cap) {
            *out = ids;
            return n;
        }
        free(ids);
        if (n < 0) return -1;
        cap = n;
    }
}

int ur_tokens_common_prefix(const int32_t *a, int na, const int32_t *b, int nb) {
    int k = 0;
    while (k < na && k < nb && a[k] == b[k]) k++;
    return k;
}
