/* TDS examples as tokens (input + answer), and tokens as text and JSON. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tds/tds_int.h"

void ur_tds_seq_free(ur_tds_seq *s) {
    free(s->ids);
    memset(s, 0, sizeof *s);
}


const char *ur_tds_tokenize_name(int mode) { return mode == UR_TDS_SEPARATE ? "separate" : "joint"; }

void ur_tds_aligntds_prompt(const char *query, size_t len, ur_buf *out) {
    ur_buf_puts(out, "# Query: \n ```");
    ur_buf_put(out, query, len);
    ur_buf_puts(out, "``` \n\n \n# Answer: \n ```");
}

/* joint: tokens of prompt + answer, the input the longest common prefix with the
 * prompt's own tokens */
static int tokens_joint(const ur_vocab *v, const char *prompt, size_t plen, const char *answer, size_t alen,
                        int add_bos, int parse_special, int32_t **ids, int *n, int *n_context, ur_err *err) {
    int32_t *p = NULL, *j = NULL;
    char *joint = ur_xmalloc(plen + alen + 1);
    memcpy(joint, prompt, plen);
    memcpy(joint + plen, answer, alen);
    int np = ur_tokenize_alloc(v, prompt, plen, add_bos, parse_special, &p, err);
    int nj = np < 0 ? -1 : ur_tokenize_alloc(v, joint, plen + alen, add_bos, parse_special, &j, err);
    free(joint);
    if (nj < 0) {
        free(p);
        return -1;
    }
    int k = 0;
    while (k < np && k < nj && p[k] == j[k]) k++;
    free(p);
    *ids = j, *n = nj, *n_context = k;
    return 0;
}

/* separate: the prompt's tokens, then the answer's alone (no BOS; specials parsed) */
static int tokens_separate(const ur_vocab *v, const char *prompt, size_t plen, const char *answer, size_t alen,
                           int add_bos, int parse_special, int32_t **ids, int *n, int *n_context, ur_err *err) {
    int32_t *p = NULL, *q = NULL;
    int np = ur_tokenize_alloc(v, prompt, plen, add_bos, parse_special, &p, err);
    int nq = np < 0 ? -1 : alen ? ur_tokenize_alloc(v, answer, alen, 0, 1, &q, err) : 0;
    if (nq < 0) {
        free(p);
        return -1;
    }
    p = ur_xrealloc(p, sizeof *p * (size_t)(np + nq + 1));
    if (nq) memcpy(p + np, q, sizeof *q * (size_t)nq);
    free(q);
    *ids = p, *n = np + nq, *n_context = np;
    return 0;
}

int tds_input_tokens(const ur_vocab *v, const char *prompt, size_t plen, const char *answer, size_t alen, int add_bos,
                     int parse_special, int tokenize, int32_t **ids, ur_err *err) {
    int n, k;
    if ((tokenize == UR_TDS_SEPARATE ? tokens_separate : tokens_joint)(v, prompt, plen, answer, alen, add_bos,
                                                                        parse_special, ids, &n, &k, err))
        return -1;
    if (k == 0) {
        free(*ids), *ids = NULL;
        return ur_errf(err, "tds: the prompt gives no input token to condition the answer on");
    }
    return k;
}

int ur_tds_seq_text(const ur_vocab *v, const char *prompt, size_t plen, const char *answer, size_t alen, int add_bos,
                    int parse_special, int eos, int tokenize, ur_tds_seq *out, ur_err *err) {
    memset(out, 0, sizeof *out);
    const int32_t eos_id = ur_vocab_eos(v);
    char eos_text[64];
    int el = eos_id >= 0 ? ur_token_to_bytes(v, eos_id, 1, eos_text, sizeof eos_text) : 0;
    if (el > 0 && el <= (int)sizeof eos_text && alen >= (size_t)el && !memcmp(answer + alen - el, eos_text, (size_t)el))
        alen -= (size_t)el, eos = 1;
    if (eos && eos_id < 0) return ur_errf(err, "tds: the answer ends the turn but the vocabulary has no EOS token");
    int32_t *j = NULL;
    int nj, k;
    if ((tokenize == UR_TDS_SEPARATE ? tokens_separate : tokens_joint)(v, prompt, plen, answer, alen, add_bos,
                                                                        parse_special, &j, &nj, &k, err))
        return -1;
    if (k == 0) {
        free(j);
        return ur_errf(err, "tds: the prompt gives no input token to condition the answer on");
    }
    if (nj == k && !eos) {
        free(j);
        return ur_errf(err, "tds: the answer is empty");
    }
    if (eos) {
        j = ur_xrealloc(j, sizeof *j * (size_t)(nj + 1));
        j[nj++] = eos_id;
    }
    out->ids = j;
    out->n = nj;
    out->n_context = k;
    return 0;
}

int ur_tds_answer_sep(const ur_chat *f, ur_buf *out, ur_err *err) {
    static const char Q[] = "Q", A[] = "ANSWER";
    ur_msg m[2] = {{UR_ROLE_USER, (char *)Q, 1}, {UR_ROLE_ASSISTANT, (char *)A, sizeof A - 1}};
    ur_buf g = {0}, full = {0};
    int rc = ur_chat_render(f, m, 1, 1, &g, err);
    if (!rc) rc = ur_chat_render(f, m, 2, 0, &full, err);
    if (!rc && g.len <= full.len && !memcmp(g.data, full.data, g.len)) {
        const char *at = full.data ? strstr(full.data + g.len, A) : NULL;
        if (at) ur_buf_put(out, full.data + g.len, (size_t)(at - (full.data + g.len)));
    }
    ur_buf_free(&g), ur_buf_free(&full);
    return rc;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0. */
static int utf8_len(const unsigned char *s, size_t n) {
    int l = s[0] < 0x80 ? 1 : (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!l || (size_t)l > n) return 0;
    for (int i = 1; i < l; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    uint32_t c = l == 1 ? s[0] : l == 2 ? s[0] & 0x1Fu : l == 3 ? s[0] & 0x0Fu : s[0] & 0x07u;
    for (int i = 1; i < l; i++) c = c << 6 | (s[i] & 0x3Fu);
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[l] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF) || (l == 1 && c == 0)) return 0;
    return l;
}

void ur_tds_token_text(const ur_vocab *v, int32_t id, ur_buf *out) {
    char small[64];
    int n = ur_token_to_bytes(v, id, 1, small, sizeof small);
    char *b = small;
    if (n > (int)sizeof small) {
        b = ur_xmalloc((size_t)n);
        ur_token_to_bytes(v, id, 1, b, n);
    }
    int ok = n > 0;
    for (int i = 0; ok && i < n;) {
        int l = utf8_len((const unsigned char *)b + i, (size_t)(n - i));
        ok = l > 0;
        i += l;
    }
    if (ok) {
        ur_buf_put(out, b, (size_t)n);
    } else {
        size_t pl;
        const char *p = ur_vocab_piece(v, id, &pl);
        ur_buf_put(out, p ? p : "", p ? pl : 0);
    }
    if (b != small) free(b);
}

static void put_num(ur_buf *out, const char *key, double x) {
    if (isnan(x)) ur_buf_printf(out, ",\"%s\":null", key);
    else ur_buf_printf(out, ",\"%s\":%.6g", key, x);
}

void ur_tds_tokens_json(const ur_vocab *v, const ur_tds_pos *pos, int n, ur_buf *out) {
    ur_buf t = {0};
    ur_buf_puts(out, "[");
    for (int i = 0; i < n; i++) {
        const ur_tds_pos *p = &pos[i];
        t.len = 0;
        ur_tds_token_text(v, p->token, &t);
        ur_buf_printf(out, "%s{\"pos\":%d,\"token\":%d,\"text\":", i ? "," : "", i, p->token);
        ur_buf_json_str(out, t.data ? t.data : "", t.len);
        ur_buf_printf(out, ",\"aligned_top\":%d", p->aligned_top);
        if (p->aligned_top != p->token) {
            t.len = 0;
            ur_tds_token_text(v, p->aligned_top, &t);
            ur_buf_puts(out, ",\"aligned_top_text\":");
            ur_buf_json_str(out, t.data ? t.data : "", t.len);
        }
        if (p->rank_gt > 0) ur_buf_printf(out, ",\"rank\":null,\"rank_gt\":%d", p->rank_gt);
        else ur_buf_printf(out, ",\"rank\":%d", p->rank);
        ur_buf_printf(out, ",\"class\":\"%s\"", ur_tds_class_name(p->cls));
        put_num(out, "p_base", p->p_base);
        put_num(out, "p_align", p->p_align);
        put_num(out, "tp", p->tp);
        put_num(out, "kl_align_base", p->kl_ab);
        put_num(out, "kl_base_align", p->kl_ba);
        put_num(out, "kl_topk", p->kl_topk);
        ur_buf_puts(out, ",\"top\":[");
        for (int j = 0; j < UR_TDS_TOP && p->top[j] >= 0; j++) {
            t.len = 0;
            ur_tds_token_text(v, p->top[j], &t);
            ur_buf_printf(out, "%s[%d,", j ? "," : "", p->top[j]);
            ur_buf_json_str(out, t.data ? t.data : "", t.len);
            ur_buf_printf(out, ",%.6g]", p->top_p[j]);
        }
        ur_buf_puts(out, "]}");
    }
    ur_buf_puts(out, "]");
    ur_buf_free(&t);
}
