/* The URIAL paper's tuning-free baselines as chat formats: zero-shot, retrieval ICL,
 * the paper-era URIAL format and prefix decoding (include/urial/chat.h).
 *
 * Reference: Re-Align/URIAL, src/adapt_utils.py (commit 1daee528; preprocess() and
 * postprocess()) and src/models.py (the "prefix" adapt mode: `prompt + prefix`, the
 * output `prefix + " " + o`). Every literal below is copied from their f-strings:
 *   zero_shot: f"# Query: \n ```{in_text}``` \n\n \n# Answer: \n ``` "
 *   urial:     f"{urial_prefix}\n# Query:\n```{in_text}```\n\n# Answer:\n```\n"
 *   retrieve:  _user = "# Query:", _assistant = "\n \n# Answer:"
 *              query: f"{_user} \n ```{in_text} ``` \n" + f"{_assistant} \n ``` "
 *              demo:  f"{_user} \n ``` {r['instruction'] + ' ' + r.get('input', '')} ``` \n"
 *                     + f"{_assistant} \n ``` {shorten(r['output'])} ``` " + "\n --- \n"
 *              each demo is put before the text so far, walking the examples from the
 *              most similar: the most similar one ends up last, next to the query.
 *   shorten(s, n=300): the first 300 of s.split(" ") joined by " ", + " ... ", when longer.
 *   prefix_ref: prefix = " ".join(chat_output.split(" ")[:K]); output = prefix + " " + output */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "chat/chat_int.h"
#include "urial/dataset.h"
#include "urial/retrieve.h"

struct answer_prefixes {
    char *path;
    uint64_t hash;
    int words, n;
    char **ins, **prefix;   /* [n] */
    ur_keymap by_ins, by_id; /* key number -> the first item with it: ins_item, id_item */
    int *ins_item, *id_item;
};

/* ---- rendering ---------------------------------------------------------------------------- */
void legacy_turn(const ur_chat *f, ur_buf *out, int role, const char *msg, size_t len) {
    if (role == UR_ROLE_USER) {
        if (f->style == URIAL_LEGACY) ur_buf_puts(out, "\n# Query:\n```");
        else ur_buf_puts(out, "# Query: \n ```");
        ur_buf_put(out, msg, len);
        if (f->style == URIAL_LEGACY) ur_buf_puts(out, "```\n\n# Answer:\n```\n");
        else if (f->style == URIAL_ZERO_SHOT) ur_buf_puts(out, "``` \n\n \n# Answer: \n ``` ");
        else ur_buf_puts(out, " ``` \n" "\n \n# Answer: \n ``` ");
        return;
    }
    if (!msg) return; /* the open answer: the user turn already opened it */
    ur_buf_put(out, msg, len);
    ur_buf_puts(out, f->style == URIAL_LEGACY ? "\n```\n" : " ``` \n --- \n");
}

/* the authors' shorten(s, n=300) */
static void put_shortened(ur_buf *out, const char *s) {
    int spaces = 0;
    const char *p = s;
    for (; *p; p++)
        if (*p == ' ' && ++spaces == 300) break;
    if (!*p) {
        ur_buf_puts(out, s);
        return;
    }
    ur_buf_put(out, s, (size_t)(p - s));
    ur_buf_puts(out, " ... ");
}

void retrieval_examples(const ur_chat *f, const char *query, size_t len, ur_buf *out) {
    int *hit = ur_xmalloc(sizeof *hit * (size_t)f->ret_k);
    int n = ur_retriever_query(f->ret, query, len, f->ret_k, hit);
    for (int i = n - 1; i >= 0; i--) {
        const ur_retriever *r = f->ret;
        ur_buf_puts(out, "# Query: \n ``` ");
        ur_buf_puts(out, ur_retriever_instruction(r, hit[i]));
        ur_buf_puts(out, " ");
        ur_buf_puts(out, ur_retriever_input(r, hit[i]));
        ur_buf_puts(out, " ``` \n" "\n \n# Answer: \n ``` ");
        put_shortened(out, ur_retriever_output(r, hit[i]));
        ur_buf_puts(out, " ``` " "\n --- \n");
    }
    free(hit);
}

static int find_prefix(const answer_prefixes *ap, const char *q, size_t len) {
    char *key = ur_xstrndup(q, len);
    int k = ur_keymap_find(&ap->by_ins, key);
    free(key);
    return k < 0 ? -1 : ap->ins_item[k];
}

void answer_prefix_put(const ur_chat *f, const ur_msg *m, int n, ur_buf *out) {
    if (n <= 0 || m[n - 1].role != UR_ROLE_USER || !m[n - 1].content) return;
    int i = find_prefix(f->ap, m[n - 1].content, m[n - 1].len);
    if (i >= 0) ur_buf_puts(out, f->ap->prefix[i]);
}

/* ---- the formats --------------------------------------------------------------------------- */
static ur_chat *empty_urial(const char *name, int style) {
    ur_chat *f = chat_new(UR_CHAT_URIAL, name);
    f->prompt = ur_xstrdup("");
    f->style = style;
    return f;
}

ur_chat *ur_chat_zero_shot(void) { return empty_urial("zero-shot", URIAL_ZERO_SHOT); }

ur_chat *ur_chat_retrieval(ur_retriever *r, int k) {
    char name[32];
    snprintf(name, sizeof name, "retrieve-k%d", k);
    ur_chat *f = empty_urial(name, URIAL_RETRIEVE);
    f->ret = r;
    f->ret_k = k < 1 ? 1 : k;
    return f;
}

int ur_chat_set_urial_format(ur_chat *f, int legacy, ur_err *err) {
    if (f->kind != UR_CHAT_URIAL || (f->style != URIAL_BACKTICKS && f->style != URIAL_LEGACY)) {
        if (!legacy && f->kind == UR_CHAT_URIAL && f->style != URIAL_V5 && f->style != URIAL_V6) return 0;
        return ur_errf(err, "%s: --urial-format %s applies to a URIAL prompt in the # Query: / # Answer: format", f->name,
                       legacy ? "legacy" : "backticks");
    }
    f->style = legacy ? URIAL_LEGACY : URIAL_BACKTICKS;
    return 0;
}

/* " ".join(s.split(" ")[:words]) */
static char *first_words(const char *s, int words) {
    const char *p = s;
    for (int spaces = 0; *p; p++)
        if (*p == ' ' && ++spaces == words) break;
    return ur_xstrndup(s, (size_t)(p - s));
}

static void ap_free(answer_prefixes *ap) {
    if (!ap) return;
    for (int i = 0; i < ap->n; i++) free(ap->ins[i]), free(ap->prefix[i]);
    free(ap->ins), free(ap->prefix), free(ap->ins_item), free(ap->id_item), free(ap->path);
    ur_keymap_free(&ap->by_ins), ur_keymap_free(&ap->by_id);
    free(ap);
}

static int ap_fill(answer_prefixes *ap, ur_dataset *ds, ur_err *err) {
    ap->n = ds->n;
    ap->ins = ur_xcalloc((size_t)ds->n, sizeof *ap->ins), ap->prefix = ur_xcalloc((size_t)ds->n, sizeof *ap->prefix);
    ap->ins_item = ur_xcalloc((size_t)ds->n, sizeof *ap->ins_item), ap->id_item = ur_xcalloc((size_t)ds->n, sizeof(int));
    for (int i = 0; i < ds->n; i++) {
        json_t *o = json_loads(ds->items[i].fields, 0, NULL), *v = json_object_get(o, "output");
        if (json_is_array(v)) v = json_array_get(v, 0);
        if (!json_is_string(v)) {
            json_decref(o);
            return ur_errf(err, "%s: item %d (id %.64s) has no \"output\" string (the aligned model's answer)", ap->path,
                           i, ds->items[i].id);
        }
        ap->prefix[i] = first_words(json_string_value(v), ap->words);
        json_decref(o);
        ap->ins[i] = ur_xstrdup(ds->items[i].turns[0]);
        int before = ap->by_ins.n, k = ur_keymap_add(&ap->by_ins, ap->ins[i]);
        if (ap->by_ins.n > before) ap->ins_item[k] = i; /* the first answer to an instruction */
        ap->id_item[ur_keymap_add(&ap->by_id, ds->items[i].id)] = i;
    }
    return 0;
}

int ur_chat_set_answer_prefix(ur_chat *f, const char *aligned_outputs, int words, ur_err *err) {
    if (words < 1) return ur_errf(err, "%s: --prefix-words must be at least 1, not %d", aligned_outputs, words);
    ur_buf text = {0};
    if (ur_read_file(aligned_outputs, "aligned outputs", 0, &text, err)) return -1;
    answer_prefixes *ap = ur_xcalloc(1, sizeof *ap);
    ap->path = ur_xstrdup(aligned_outputs);
    ap->hash = ur_hash64(text.data, text.len, UR_HASH64_INIT);
    ap->words = words;
    ur_dataset ds;
    int rc = ur_dataset_parse(text.data, text.len, aligned_outputs, &ds, err);
    ur_buf_free(&text);
    if (!rc && ds.format == UR_DATA_MT_BENCH)
        rc = ur_errf(err, "%s: an MT-Bench question file holds no answers (give the aligned model's outputs)",
                     aligned_outputs);
    else if (!rc) rc = ap_fill(ap, &ds, err);
    ur_dataset_free(&ds);
    if (rc) return ap_free(ap), -1;
    ap_free(f->ap);
    f->ap = ap;
    ur_buf name = {0};
    ur_buf_printf(&name, "%s+prefix%d", f->name, words);
    free(f->name);
    f->name = name.data;
    return 0;
}

void baselines_free(ur_chat *f) {
    ur_retriever_free(f->ret);
    ap_free(f->ap);
}

/* ---- what a job records ------------------------------------------------------------------- */
const char *ur_chat_kind_name(const ur_chat *f) {
    if (f->kind == UR_CHAT_TEMPLATE) return "template";
    return f->style == URIAL_ZERO_SHOT ? "zero-shot" : f->style == URIAL_RETRIEVE ? "retrieve" : "urial";
}

static void put_key_str(ur_buf *out, int *first, const char *key, const char *value) {
    ur_buf_printf(out, "%s\"%s\":", *first ? "" : ",", key);
    ur_buf_json_str(out, value, strlen(value));
    *first = 0;
}

void ur_chat_params_json(const ur_chat *f, ur_buf *out) {
    int first = 1;
    char hex[20];
    ur_buf_puts(out, "{");
    if (f->kind == UR_CHAT_URIAL && f->style == URIAL_LEGACY) put_key_str(out, &first, "urial_format", "legacy");
    if (f->ret) {
        put_key_str(out, &first, "pool", ur_base_name(ur_retriever_path(f->ret)));
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)ur_retriever_pool_hash(f->ret));
        put_key_str(out, &first, "pool_hash", hex);
        ur_buf_printf(out, ",\"k\":%d", f->ret_k);
        put_key_str(out, &first, "retriever", ur_retriever_method(f->ret));
    }
    if (f->ap) {
        put_key_str(out, &first, "prefix_from", ur_base_name(f->ap->path));
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)f->ap->hash);
        put_key_str(out, &first, "prefix_from_hash", hex);
        ur_buf_printf(out, ",\"prefix_words\":%d", f->ap->words);
    }
    ur_buf_puts(out, "}");
}

int ur_chat_retrieved(const ur_chat *f, const char *query, size_t len, ur_buf *out) {
    if (!f->ret) return 0;
    int *hit = ur_xmalloc(sizeof *hit * (size_t)f->ret_k);
    int n = ur_retriever_query(f->ret, query, len, f->ret_k, hit);
    ur_buf_puts(out, "[");
    for (int i = 0; i < n; i++) ur_buf_printf(out, "%s%s", i ? "," : "", ur_retriever_id(f->ret, hit[i]));
    ur_buf_puts(out, "]");
    free(hit);
    return 1;
}

int ur_chat_answer_prefix(const ur_chat *f, const char *query, size_t len, ur_buf *out) {
    if (!f->ap) return -1;
    int i = find_prefix(f->ap, query, len);
    if (i < 0) return 0;
    ur_buf_puts(out, f->ap->prefix[i]);
    return 1;
}

const char *ur_chat_answer_instruction(const ur_chat *f, const char *id_json) {
    int k = f->ap ? ur_keymap_find(&f->ap->by_id, id_json) : -1;
    return k < 0 ? NULL : f->ap->ins[f->ap->id_item[k]];
}

void ur_chat_join_answer(const char *prefix, size_t plen, const char *cont, size_t clen, ur_buf *out) {
    ur_buf_put(out, prefix, plen);
    ur_buf_puts(out, " ");
    ur_buf_put(out, cont, clen);
}
