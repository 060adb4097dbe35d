/* tokenizer/convert: a Hugging Face tokenizer.json (+ tokenizer_config.json, config.json and
 * chat_template.jinja beside it) -> a vocab-only GGUF, with the tokenizer metadata as
 * llama.cpp's converter (convert_hf_to_gguf.py with gguf-py's SpecialVocab) writes it:
 *
 * - Byte-level BPE (a ByteLevel pre-tokenizer or decoder): tokenizer.ggml.model "gpt2",
 *   tokenizer.ggml.pre named after the pre-tokenizer's regexes, tokens by id (holes and
 *   ids up to the model's vocab_size as "[PAD<id>]", UNUSED), merges as "LEFT RIGHT".
 * - SentencePiece-style BPE (byte_fallback, "▁" for spaces: Gemma, Llama-2): model "llama",
 *   pre "default", scores from the merge order (the piece a lower-ranked merge makes scores
 *   higher, which is the order SentencePiece's scores give), <0xXX> pieces as BYTE tokens,
 *   add_space_prefix from the normalizer (a Prepend of "▁").
 * - Token types: an added token is CONTROL when it is special or looks special (<|...|>,
 *   <｜...｜>, <unused...>, <pad>, <mask>, ...), else USER_DEFINED (with "▁" written as " "
 *   for SentencePiece vocabs, as llama.cpp pre-normalizes them); every other token NORMAL.
 * - Special ids: bos/eos/unk/sep/pad/cls/mask from tokenizer_config.json's *_token texts
 *   looked up among the added tokens, else config.json's *_token_id; add_bos/add_eos from
 *   tokenizer_config.json's add_*_token, else from a TemplateProcessing post-processor.
 * - tokenizer.chat_template from tokenizer_config.json (or chat_template.jinja).
 * The file also gets general.architecture and small placeholder hyperparameters, so that
 * llama.cpp loads it as a vocab-only model. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tokenizer/vocab_int.h"
#include "urial/gguf.h"

/* flags: JSON_DECODE_INT_AS_REAL for tokenizer_config.json, whose model_max_length is often 1e30 */
static json_t *load_json(const char *path, int required, size_t flags, ur_err *err, int *failed) {
    json_error_t je;
    if (access(path, F_OK)) { /* absent: fine for the optional files */
        if (required) ur_errf(err, "%s: cannot open", path), *failed = 1;
        return NULL;
    }
    const int fd = ur_open_input(path, "tokenizer file", 0, err);
    FILE *f = fd < 0 ? NULL : fdopen(fd, "rb");
    if (!f) {
        if (fd >= 0) close(fd), ur_errf(err, "%s: cannot open", path);
        *failed = 1;
        return NULL;
    }
    json_t *j = json_loadf(f, JSON_ALLOW_NUL | flags, &je);
    fclose(f);
    if (!j || !json_is_object(j)) {
        ur_errf(err, "%s: line %d: %s", path, je.line, j ? "not a JSON object" : je.text);
        json_decref(j);
        *failed = 1;
        return NULL;
    }
    return j;
}

/* Does any object in the tree (pre_tokenizer, decoder, ...) have "type": type? */
static int has_type(json_t *j, const char *type) {
    if (json_is_object(j)) {
        json_t *t = json_object_get(j, "type");
        if (json_is_string(t) && !strcmp(json_string_value(t), type)) return 1;
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) if (has_type(v, type)) return 1;
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) if (has_type(v, type)) return 1;
    }
    return 0;
}

/* The Split regexes of a pre-tokenizer in order, joined by " ; " (a String pattern as-is). */
static void split_patterns(json_t *j, ur_buf *b) {
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) split_patterns(v, b);
        return;
    }
    if (!json_is_object(j)) return;
    const char *type = json_string_value(json_object_get(j, "type"));
    if (type && !strcmp(type, "Split")) {
        json_t *p = json_object_get(j, "pattern");
        const char *re = json_string_value(json_object_get(p, "Regex"));
        if (!re) re = json_string_value(json_object_get(p, "String"));
        if (b->len) ur_buf_puts(b, " ; ");
        ur_buf_puts(b, re ? re : "?");
    } else if (type && !strcmp(type, "Digits")) {
        if (b->len) ur_buf_puts(b, " ; ");
        ur_buf_puts(b, json_is_true(json_object_get(j, "individual_digits")) ? "\\p{N}" : "\\p{N}+");
    } else if (type && !strcmp(type, "ByteLevel") && json_is_true(json_object_get(j, "use_regex"))) {
        if (b->len) ur_buf_puts(b, " ; ");
        ur_buf_puts(b, "BYTELEVEL");
    }
    split_patterns(json_object_get(j, "pretokenizers"), b);
}

/* tokenizer.ggml.pre for a byte-level pre-tokenizer, from its regexes (the names
 * llama.cpp's converter gives these tokenizers); NULL when none fits. */
static const char *detect_pre(json_t *tok) {
    ur_buf b = {0};
    split_patterns(json_object_get(tok, "pre_tokenizer"), &b);
    static const struct { const char *pats, *pre; } known[] = {
        {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+"
         "|\\s+(?!\\S)|\\s+", "llama-bpe"},
        {"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+"
         "|\\s+(?!\\S)|\\s+", "qwen2"},
        {"\\p{N}{1,3} ; [\xe4\xb8\x80-\xe9\xbe\xa5\xe3\x81\x80-\xe3\x82\x9f\xe3\x82\xa0-\xe3\x83\xbf]+ ; "
         "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
         "| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+", "deepseek-v3"},
        {"BYTELEVEL", "gpt-2"},
        {"\\p{N} ; BYTELEVEL", "smollm"},
    };
    const char *pre = NULL;
    for (size_t k = 0; k < sizeof known / sizeof known[0] && !pre; k++)
        if (b.len && !strcmp(b.data, known[k].pats)) pre = known[k].pre;
    ur_buf_free(&b);
    return pre;
}

/* convert_hf_to_gguf.py's does_token_look_special */
static int looks_special(const char *s) {
    size_t n = strlen(s);
    if (!strcmp(s, "<pad>") || !strcmp(s, "<mask>") || !strcmp(s, "<2mass>") || !strcmp(s, "[@BOS@]")) return 1;
    if (n >= 4 && !strncmp(s, "<|", 2) && !strcmp(s + n - 2, "|>")) return 1;
    if (n >= 8 && !strncmp(s, "<\xef\xbd\x9c", 4) && !strcmp(s + n - 4, "\xef\xbd\x9c>")) return 1;
    if (n >= 8 && !strncmp(s, "<unused", 7) && s[n - 1] == '>') return 1;
    return 0;
}

/* A *_token entry of tokenizer_config.json: a string or {"content": ...}. */
static const char *token_text(json_t *e) {
    if (json_is_string(e)) return json_string_value(e);
    if (json_is_object(e)) return json_string_value(json_object_get(e, "content"));
    return NULL;
}

static int byte_piece(const char *s) {
    unsigned v;
    char tail;
    return strlen(s) == 6 && sscanf(s, "<0x%2X%c", &v, &tail) == 2 && tail == '>';
}

typedef struct conv {
    json_t *tok, *cfg, *mcfg;
    int64_t n;
    const char **text;     /* n, into the JSON (or `own`) */
    char **own;            /* n, strings made here */
    int32_t *type;
    float *score;
    int spm;
} conv;

static int64_t added_id(json_t *tok, const char *content) {
    size_t i;
    json_t *a;
    if (!content) return -1;
    json_array_foreach(json_object_get(tok, "added_tokens"), i, a) {
        const char *c = json_string_value(json_object_get(a, "content"));
        if (c && !strcmp(c, content) && json_is_integer(json_object_get(a, "id")))
            return json_integer_value(json_object_get(a, "id"));
    }
    return -1;
}

/* special ids and add_* flags (SpecialVocab) */
static void write_specials(const conv *c, ur_gguf_writer *w) {
    static const char *const kinds[] = {"bos", "eos", "unk", "sep", "pad", "cls", "mask"};
    static const char *const keys[] = {"bos_token_id", "eos_token_id", "unknown_token_id", "seperator_token_id",
                                       "padding_token_id", "cls_token_id", "mask_token_id"};
    int64_t ids[7];
    for (int k = 0; k < 7; k++) {
        char name[32];
        snprintf(name, sizeof name, "%s_token", kinds[k]);
        ids[k] = c->cfg ? added_id(c->tok, token_text(json_object_get(c->cfg, name))) : -1;
        if (ids[k] < 0 && c->mcfg) {
            snprintf(name, sizeof name, "%s_token_id", kinds[k]);
            json_t *v = json_object_get(c->mcfg, name);
            if (json_is_array(v)) v = json_array_get(v, 0);
            if (json_is_integer(v)) ids[k] = json_integer_value(v);
        }
    }
    for (int k = 0; k < 7; k++) {
        if (ids[k] < 0 || ids[k] >= c->n) continue;
        char key[64];
        snprintf(key, sizeof key, "tokenizer.ggml.%s", keys[k]);
        ur_gguf_w_u32(w, key, (uint32_t)ids[k]);
    }
    /* add_bos/add_eos: tokenizer_config.json's flags, else a TemplateProcessing's single template */
    int add[2] = {-1, -1};
    json_t *pp = json_object_get(c->tok, "post_processor");
    json_t *procs = json_object_get(pp, "processors");
    size_t np = json_is_array(procs) ? json_array_size(procs) : 1;
    for (size_t i = 0; i < np; i++) {
        json_t *p = json_is_array(procs) ? json_array_get(procs, i) : pp;
        const char *type = json_string_value(json_object_get(p, "type"));
        json_t *single = json_object_get(p, "single");
        if (!type || strcmp(type, "TemplateProcessing") || json_array_size(single) < 2) continue;
        const char *first = json_string_value(json_object_get(json_object_get(json_array_get(single, 0), "SpecialToken"), "id"));
        const char *last = json_string_value(
            json_object_get(json_object_get(json_array_get(single, json_array_size(single) - 1), "SpecialToken"), "id"));
        add[0] = first && ids[0] >= 0 && added_id(c->tok, first) == ids[0];
        add[1] = last && ids[1] >= 0 && added_id(c->tok, last) == ids[1];
    }
    for (int k = 0; k < 2; k++) {
        json_t *f = c->cfg ? json_object_get(c->cfg, k ? "add_eos_token" : "add_bos_token") : NULL;
        if (json_is_boolean(f)) add[k] = json_is_true(f);
        if (add[k] >= 0) ur_gguf_w_bool(w, k ? "tokenizer.ggml.add_eos_token" : "tokenizer.ggml.add_bos_token", add[k]);
    }
}

/* tokens, types (and scores for SentencePiece vocabs) */
static int build_tokens(conv *c, int64_t vocab_size, const char *path, ur_err *err) {
    json_t *model = json_object_get(c->tok, "model"), *vocab = json_object_get(model, "vocab");
    json_t *added = json_object_get(c->tok, "added_tokens");
    int64_t n = vocab_size;
    const char *k;
    json_t *v;
    size_t i;
    json_object_foreach(vocab, k, v) if (json_is_integer(v) && json_integer_value(v) >= n) n = json_integer_value(v) + 1;
    json_array_foreach(added, i, v) {
        json_t *id = json_object_get(v, "id");
        if (json_is_integer(id) && json_integer_value(id) >= n) n = json_integer_value(id) + 1;
    }
    if (n <= 0 || n > (1 << 24)) return ur_errf(err, "%s: %lld tokens: not a vocabulary urial converts", path, (long long)n);
    c->n = n;
    c->text = ur_xcalloc((size_t)n, sizeof *c->text);
    c->own = ur_xcalloc((size_t)n, sizeof *c->own);
    c->type = ur_xcalloc((size_t)n, sizeof *c->type);
    c->score = ur_xcalloc((size_t)n, sizeof *c->score);
    json_object_foreach(vocab, k, v) {
        int64_t id = json_integer_value(v);
        if (id < 0) continue;
        c->text[id] = k;
        c->type[id] = c->spm && byte_piece(k) ? UR_TOK_BYTE : UR_TOK_NORMAL;
    }
    const char *unk = json_string_value(json_object_get(model, "unk_token"));
    if (unk && c->spm) {
        json_t *uid = json_object_get(vocab, unk);
        if (json_is_integer(uid)) c->type[json_integer_value(uid)] = UR_TOK_UNKNOWN;
    }
    json_array_foreach(added, i, v) {
        int64_t id = json_integer_value(json_object_get(v, "id"));
        const char *s = json_string_value(json_object_get(v, "content"));
        if (!s || id < 0) continue;
        c->text[id] = s;
        if (json_is_true(json_object_get(v, "special")) || looks_special(s)) {
            c->type[id] = UR_TOK_CONTROL;
        } else {
            c->type[id] = UR_TOK_USER_DEFINED;
            if (c->spm && strstr(s, "\xe2\x96\x81")) { /* user-defined spaces are pre-normalized: "▁" -> " " */
                ur_buf b = {0};
                for (const char *p = s; *p;) {
                    if (!strncmp(p, "\xe2\x96\x81", 3)) ur_buf_puts(&b, " "), p += 3;
                    else ur_buf_put(&b, p++, 1);
                }
                c->own[id] = ur_xstrndup(b.data, b.len);
                c->text[id] = c->own[id];
                ur_buf_free(&b);
            }
        }
        if (c->spm) c->score[id] = -1000.0f;
    }
    for (int64_t id = 0; id < n; id++) {
        if (c->text[id]) continue;
        char pad[32];
        snprintf(pad, sizeof pad, "[PAD%lld]", (long long)id);
        c->own[id] = ur_xstrdup(pad);
        c->text[id] = c->own[id];
        c->type[id] = UR_TOK_UNUSED;
    }
    return 0;
}

/* The merges as "LEFT RIGHT" strings (the list form [LEFT, RIGHT] of newer files joined). */
static const char **merge_strings(json_t *merges, char ***own, size_t *n) {
    *n = json_array_size(merges);
    const char **m = ur_xcalloc(*n ? *n : 1, sizeof *m);
    *own = ur_xcalloc(*n ? *n : 1, sizeof **own);
    for (size_t i = 0; i < *n; i++) {
        json_t *e = json_array_get(merges, i);
        if (json_is_string(e)) {
            m[i] = json_string_value(e);
        } else {
            const char *a = json_string_value(json_array_get(e, 0)), *b = json_string_value(json_array_get(e, 1));
            size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
            char *s = ur_xmalloc(la + lb + 2);
            memcpy(s, a ? a : "", la);
            s[la] = ' ';
            memcpy(s + la + 1, b ? b : "", lb + 1);
            (*own)[i] = s;
            m[i] = s;
        }
    }
    return m;
}

/* SentencePiece scores from the merge order: a piece scores -(rank of the first merge
 * that makes it); pieces no merge makes keep 0 (single characters, bytes) or, when
 * longer, the lowest score, so they are never preferred. */
static void spm_scores(conv *c, const char *const *m, size_t nm) {
    json_t *vocab = json_object_get(json_object_get(c->tok, "model"), "vocab");
    unsigned char *set = ur_xcalloc((size_t)c->n, 1);
    ur_buf b = {0};
    for (size_t r = 0; r < nm; r++) {
        b.len = 0;
        const char *sp = m[r][0] ? strchr(m[r] + 1, ' ') : NULL; /* the separator, as llama.cpp finds it */
        if (!sp) continue;
        ur_buf_put(&b, m[r], (size_t)(sp - m[r]));
        ur_buf_put(&b, sp + 1, strlen(sp + 1) + 1);
        json_t *id = json_object_get(vocab, b.data);
        if (!json_is_integer(id)) continue;
        int64_t i = json_integer_value(id);
        if (i < 0 || i >= c->n || set[i] || c->type[i] != UR_TOK_NORMAL) continue;
        set[i] = 1;
        c->score[i] = -(float)r;
    }
    for (int64_t i = 0; i < c->n; i++) {
        if (set[i] || c->type[i] != UR_TOK_NORMAL) continue;
        size_t len = strlen(c->text[i]), cps = 0;
        for (size_t k = 0; k < len; k++) cps += ((unsigned char)c->text[i][k] & 0xC0) != 0x80;
        if (cps > 1) c->score[i] = -(float)nm - 1.0f;
    }
    ur_buf_free(&b);
    free(set);
}

static char *sibling(const char *path, const char *name) {
    const char *slash = strrchr(path, '/');
    size_t dl = slash ? (size_t)(slash - path + 1) : 0;
    char *p = ur_xmalloc(dl + strlen(name) + 1);
    memcpy(p, path, dl);
    strcpy(p + dl, name);
    return p;
}

int ur_tokenizer_convert(const char *json_path, const ur_convert_opts *o, const char *out_path, ur_err *err) {
    int failed = 0, rc = -1;
    conv c = {0};
    char *cfg_path = sibling(json_path, "tokenizer_config.json"), *m_path = sibling(json_path, "config.json");
    char *j_path = sibling(json_path, "chat_template.jinja");
    ur_gguf_writer *w = NULL;
    const char **merges = NULL;
    char **merges_own = NULL;
    size_t n_merges = 0;
    ur_buf tmpl = {0};

    c.tok = load_json(json_path, 1, 0, err, &failed);
    if (!failed) c.cfg = load_json(cfg_path, 0, JSON_DECODE_INT_AS_REAL, err, &failed);
    if (!failed) c.mcfg = load_json(m_path, 0, 0, err, &failed);
    if (failed) goto done;
    json_t *model = json_object_get(c.tok, "model");
    const char *mtype = json_string_value(json_object_get(model, "type"));
    if (!mtype || strcmp(mtype, "BPE")) {
        ur_errf(err, "%s: model type '%s' is not supported (urial converts BPE tokenizers: byte-level or SentencePiece-style)",
                json_path, mtype ? mtype : "?");
        goto done;
    }
    int bytelevel = has_type(json_object_get(c.tok, "pre_tokenizer"), "ByteLevel") ||
                    has_type(json_object_get(c.tok, "decoder"), "ByteLevel");
    c.spm = !bytelevel;
    if (c.spm && !json_is_true(json_object_get(model, "byte_fallback")) &&
        !has_type(json_object_get(c.tok, "decoder"), "ByteFallback")) {
        ur_errf(err, "%s: a BPE tokenizer that is neither byte-level nor SentencePiece-style (byte fallback)", json_path);
        goto done;
    }
    const char *pre = o && o->pre ? o->pre : c.spm ? "default" : detect_pre(c.tok);
    if (!pre) {
        ur_errf(err, "%s: cannot tell which pre-tokenizer its regexes are: give --pre NAME (urial convert-tokenizer --help lists them)",
                json_path);
        goto done;
    }
    if (!c.spm && !ur_pretok_find(pre, strlen(pre))) {
        ur_errf(err, "%s: pre-tokenizer '%s' is not one urial knows", json_path, pre);
        goto done;
    }
    int64_t vs = o ? o->vocab_size : 0;
    json_t *mvs = c.mcfg ? json_object_get(c.mcfg, "vocab_size") : NULL;
    if (!vs && json_is_integer(mvs)) vs = json_integer_value(mvs);
    if (build_tokens(&c, vs, json_path, err) < 0) goto done;
    merges = merge_strings(json_object_get(model, "merges"), &merges_own, &n_merges);
    if (c.spm) spm_scores(&c, merges, n_merges);

    w = ur_gguf_writer_new();
    const char *arch = o && o->arch ? o->arch : "llama";
    char key[128];
    ur_gguf_w_str(w, "general.architecture", arch);
    ur_gguf_w_str(w, "general.name", o && o->name ? o->name : "tokenizer");
    ur_gguf_w_str(w, "general.type", "vocab"); /* no weights: a vocabulary to tokenize with or to synth a model on */
    static const struct { const char *k; uint32_t v; } hp[] = {
        {"context_length", 4096}, {"embedding_length", 64}, {"block_count", 1}, {"feed_forward_length", 128},
        {"attention.head_count", 1}, {"attention.head_count_kv", 1}};
    for (size_t k = 0; k < sizeof hp / sizeof hp[0]; k++) {
        snprintf(key, sizeof key, "%s.%s", arch, hp[k].k);
        ur_gguf_w_u32(w, key, hp[k].v);
    }
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    ur_gguf_w_f32(w, key, 1e-5f);
    ur_gguf_w_str(w, "tokenizer.ggml.model", c.spm ? "llama" : "gpt2");
    ur_gguf_w_str(w, "tokenizer.ggml.pre", pre);
    ur_gguf_w_arr_str(w, "tokenizer.ggml.tokens", c.text, NULL, (uint64_t)c.n);
    if (c.spm) ur_gguf_w_arr(w, "tokenizer.ggml.scores", UR_GGUF_F32, c.score, (uint64_t)c.n);
    ur_gguf_w_arr(w, "tokenizer.ggml.token_type", UR_GGUF_I32, c.type, (uint64_t)c.n);
    if (!c.spm) ur_gguf_w_arr_str(w, "tokenizer.ggml.merges", merges, NULL, n_merges);
    write_specials(&c, w);
    if (c.spm) {
        /* SentencePiece's dummy prefix: a normalizer that prepends "▁" (Llama-2); Gemma has none */
        json_t *norm = json_object_get(c.tok, "normalizer");
        ur_gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", has_type(norm, "Prepend"));
    }
    json_t *ct = c.cfg ? json_object_get(c.cfg, "chat_template") : NULL;
    if (json_is_string(ct)) {
        ur_gguf_w_str(w, "tokenizer.chat_template", json_string_value(ct));
    } else if (json_is_array(ct)) { /* named templates: "default" is the chat template */
        size_t i;
        json_t *e;
        json_array_foreach(ct, i, e) {
            const char *name = json_string_value(json_object_get(e, "name"));
            const char *t = json_string_value(json_object_get(e, "template"));
            if (!name || !t) continue;
            if (!strcmp(name, "default")) ur_gguf_w_str(w, "tokenizer.chat_template", t);
            else {
                snprintf(key, sizeof key, "tokenizer.chat_template.%s", name);
                ur_gguf_w_str(w, key, t);
            }
        }
    } else if (ur_read_file(j_path, "chat template", 1 << 24, &tmpl, NULL) == 0) {
        ur_gguf_w_str_n(w, "tokenizer.chat_template", tmpl.data, tmpl.len);
    }
    rc = ur_gguf_write(w, out_path, err);
done:
    ur_gguf_writer_free(w);
    for (int64_t i = 0; c.own && i < c.n; i++) free(c.own[i]);
    for (size_t i = 0; merges_own && i < n_merges; i++) free(merges_own[i]);
    free(merges_own);
    free(merges);
    free(c.own);
    free(c.text);
    free(c.type);
    free(c.score);
    json_decref(c.tok);
    json_decref(c.cfg);
    json_decref(c.mcfg);
    ur_buf_free(&tmpl);
    free(cfg_path);
    free(m_path);
    free(j_path);
    return rc;
}
