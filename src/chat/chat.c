/* Chat formats: the object both kinds share, the checks every conversation
 * passes before rendering, the cacheable prefix, stop strings and cleaning.
 * The kind-specific parts live in urial.c (URIAL prompts) and templates.c
 * (aligned-model chat templates). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat_int.h"

ur_chat *chat_new(int kind, const char *name) {
    ur_chat *f = ur_xcalloc(1, sizeof *f);
    f->name = ur_xstrdup(name);
    f->kind = kind;
    f->def_last_n = UR_LAST_N_DEFAULT;
    return f;
}

void ur_chat_free(ur_chat *f) {
    if (!f) return;
    if (f->jinja) jinja_chat_free(f);
    baselines_free(f);
    free(f->name);
    free(f->warning);
    free(f->prompt);
    free(f);
}

int ur_chat_kind(const ur_chat *f) { return f->kind; }
const char *ur_chat_name(const ur_chat *f) { return f->name; }
const char *ur_chat_warning(const ur_chat *f) { return f->warning; }

void ur_chat_decoding(const ur_chat *f, ur_sampler_params *p) {
    if (p->repeat_penalty == UR_PENALTY_DEFAULT)
        p->repeat_penalty = f->def_penalty > 0 ? f->def_penalty : f->kind == UR_CHAT_URIAL ? 1.1f : 1.0f;
    if (p->repeat_last_n == UR_LAST_N_DEFAULT) p->repeat_last_n = f->def_last_n != UR_LAST_N_DEFAULT ? f->def_last_n : -1;
}

void ur_chat_set_decoding(ur_chat *f, float repeat_penalty, int repeat_last_n) {
    f->def_penalty = repeat_penalty;
    f->def_last_n = repeat_last_n;
}

ur_chat *ur_chat_recorded(const ur_gguf *g, ur_err *err) {
    ur_str t = {0, 0};
    if (ur_gguf_get_str(g, "urial.prompt", &t, NULL) != 0) return NULL;
    ur_buf name = {0};
    ur_buf_printf(&name, "%s: urial.prompt", g->path);
    ur_chat *f = ur_chat_urial_text(name.data, t.ptr, t.len, err);
    ur_buf_free(&name);
    return f;
}

void ur_chat_recorded_decoding(ur_chat *f, const ur_gguf *g) {
    float pen = 0;
    int64_t n = UR_LAST_N_DEFAULT;
    if (ur_gguf_get_f32(g, "urial.repeat_penalty", &pen, NULL) != 0 || !(pen > 0 && pen <= 100)) pen = 0;
    if (ur_gguf_get_i64(g, "urial.repeat_last_n", &n, NULL) != 0 || n < -1 || n > (1 << 24)) n = UR_LAST_N_DEFAULT;
    const int last = (int)n;
    if (pen > 0 || last != UR_LAST_N_DEFAULT)
        ur_chat_set_decoding(f, pen > 0 ? pen : f->def_penalty, last != UR_LAST_N_DEFAULT ? last : f->def_last_n);
}

const char *ur_chat_urial_prompt(const ur_chat *f, size_t *len) {
    if (f->kind != UR_CHAT_URIAL) return NULL;
    if (len) *len = f->prompt_len;
    return f->prompt;
}

int ur_chat_add_bos(const ur_chat *f) {
    return f->kind == UR_CHAT_URIAL ? 1 : f->jinja ? f->jinja_add_bos : tmpl_add_bos(f->tmpl);
}
int ur_chat_parse_special(const ur_chat *f) { return f->kind == UR_CHAT_TEMPLATE; }

const char *const *ur_chat_stops(const ur_chat *f, int *n) {
    if (f->jinja) return *n = f->n_stop, (const char *const *)f->stop;
    return f->kind == UR_CHAT_URIAL ? urial_stops(f, n) : tmpl_stops(f->tmpl, n);
}

const ur_chat_info *ur_chat_list(int kind, int *n) { return kind == UR_CHAT_URIAL ? urial_list(n) : tmpl_list(n); }

/* ---- roles and their order ------------------------------------------------- */
/* Every built-in reference template requires: an optional system message first, then
 * user and assistant alternating, starting with user (Llama-2's and Mistral's raise
 * "Conversation roles must alternate user/assistant/user/assistant/..."). A model's
 * own Jinja template decides for itself: it renders what Hugging Face would render,
 * or fails with its own raise_exception(). */
static int check_roles(const ur_chat *f, const ur_msg *m, int n, ur_err *err) {
    int want = UR_ROLE_USER;
    for (int i = 0; i < n; i++) {
        int r = m[i].role;
        if (r != UR_ROLE_SYSTEM && r != UR_ROLE_USER && r != UR_ROLE_ASSISTANT)
            return ur_errf(err, "%s: message %d has an unknown role (%d)", f->name, i + 1, r);
        if (f->jinja) continue;
        if (r == UR_ROLE_SYSTEM) {
            if (i > 0)
                return ur_errf(err, "%s: message %d is a system message; a system message may only come first",
                               f->name, i + 1);
            if (f->kind == UR_CHAT_URIAL)
                return ur_errf(err,
                               "%s: message 1 is a system message; a URIAL prompt brings its own system preamble "
                               "(edit the prompt file instead, or use --template)",
                               f->name);
            if (!tmpl_has_system(f->tmpl))
                return ur_errf(err, "%s: message 1 is a system message, which this template has no place for",
                               f->name);
            continue;
        }
        if (r != want)
            return ur_errf(err,
                           "%s: message %d is %s %s message where %s %s message was expected (after an optional "
                           "system message, user and assistant messages alternate, starting with user)",
                           f->name, i + 1, r == UR_ROLE_ASSISTANT ? "an" : "a", ur_role_name(r),
                           want == UR_ROLE_ASSISTANT ? "an" : "a", ur_role_name(want));
        want = want == UR_ROLE_USER ? UR_ROLE_ASSISTANT : UR_ROLE_USER;
    }
    return 0;
}

/* bare: for the cacheable prefix, without the retrieved examples and the answer prefix */
static int chat_render(const ur_chat *f, const ur_msg *msgs, int n, int gen, int bare, ur_buf *out, ur_err *err) {
    if (n < 0 || (n > 0 && !msgs)) return ur_errf(err, "%s: invalid conversation (n = %d)", f->name, n);
    if (check_roles(f, msgs, n, err)) return -1;
    ur_buf_put(out, "", 0); /* out->data is a valid string even when nothing is rendered */
    int rc = 0;
    if (f->kind == UR_CHAT_URIAL) rc = urial_render(f, msgs, n, gen, bare, out);
    else if (f->jinja) rc = jinja_render_msgs(f, msgs, n, gen, out, err);
    else tmpl_render(f->tmpl, msgs, n, gen, out);
    if (!rc && gen && !bare && f->ap) answer_prefix_put(f, msgs, n, out);
    return rc;
}

int ur_chat_render(const ur_chat *f, const ur_msg *msgs, int n, int add_generation_prompt, ur_buf *out, ur_err *err) {
    return chat_render(f, msgs, n, add_generation_prompt, 0, out, err);
}

/* Render the conversation twice, each time with one more user message that differs
 * between the two (bytes no template trims or rewrites), and keep the common
 * prefix: whatever any template puts before the next user message's text. */
int ur_chat_prefix(const ur_chat *f, const ur_msg *msgs, int n, ur_buf *out, ur_err *err) {
    if (n < 0 || (n > 0 && !msgs)) return ur_errf(err, "%s: invalid conversation (n = %d)", f->name, n);
    ur_msg *m = ur_xmalloc(sizeof *m * ((size_t)n + 1));
    if (n) memcpy(m, msgs, sizeof *m * (size_t)n);
    char a[] = "\x01", b[] = "\x02";
    ur_buf ra = {0}, rb = {0}, rc3 = {0};
    m[n] = (ur_msg){UR_ROLE_USER, a, 1};
    int rc = chat_render(f, m, n + 1, 1, 1, &ra, err);
    m[n].content = b;
    if (!rc) rc = chat_render(f, m, n + 1, 1, 1, &rb, err);
    size_t k = 0;
    while (!rc && k < ra.len && k < rb.len && ra.data[k] == rb.data[k]) k++;
    if (!rc && f->jinja) {
        /* A Jinja template may place earlier text by what comes later (Mistral's newer
         * templates put the system message in the last user turn): the prefix must
         * also hold when the conversation goes on for another turn. */
        ur_msg *m3 = ur_xmalloc(sizeof *m3 * ((size_t)n + 3));
        if (n) memcpy(m3, msgs, sizeof *m3 * (size_t)n);
        char c[] = "\x03";
        m3[n] = (ur_msg){UR_ROLE_USER, a, 1};
        m3[n + 1] = (ur_msg){UR_ROLE_ASSISTANT, c, 1};
        m3[n + 2] = (ur_msg){UR_ROLE_USER, b, 1};
        if (!chat_render(f, m3, n + 3, 1, 1, &rc3, NULL)) {
            size_t j = 0;
            while (j < k && j < rc3.len && ra.data[j] == rc3.data[j]) j++;
            k = j;
        }
        free(m3);
    }
    if (!rc) ur_buf_put(out, ra.data, k);
    ur_buf_free(&ra);
    ur_buf_free(&rb);
    ur_buf_free(&rc3);
    free(m);
    return rc;
}

/* ---- cleaning ------------------------------------------------------------------ */
/* Decode one UTF-8 code point at s[0..n); returns its length (1 for an invalid byte,
 * which is then never whitespace). */
static size_t utf8_cp(const unsigned char *s, size_t n, uint32_t *cp) {
    if (s[0] < 0x80) return *cp = s[0], 1;
    size_t l = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 1;
    if (l == 1 || l > n) return *cp = 0xFFFFFFFF, 1;
    uint32_t c = s[0] & (0x7F >> l);
    for (size_t i = 1; i < l; i++) {
        if ((s[i] & 0xC0) != 0x80) return *cp = 0xFFFFFFFF, 1;
        c = c << 6 | (s[i] & 0x3F);
    }
    static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[l] || c > 0x10FFFF) return *cp = 0xFFFFFFFF, 1; /* overlong or out of range */
    return *cp = c, l;
}

static int py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

void py_strip(const char *s, size_t n, size_t *b, size_t *e) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, j = n;
    uint32_t cp;
    while (i < n) {
        size_t l = utf8_cp(u + i, n - i, &cp);
        if (!py_space(cp)) break;
        i += l;
    }
    while (j > i) {
        size_t k = j - 1; /* start of the last code point: back over continuation bytes */
        while (k > i && j - k < 4 && (u[k] & 0xC0) == 0x80) k--;
        size_t l = utf8_cp(u + k, j - k, &cp);
        if (k + l != j || !py_space(cp)) break;
        j = k;
    }
    *b = i;
    *e = j;
}

void buf_put_stripped(ur_buf *out, const char *s, size_t n) {
    size_t b, e;
    py_strip(s, n, &b, &e);
    ur_buf_put(out, s + b, e - b);
}

/* Byte offset of the first occurrence of any of the strings, or n. */
static size_t first_stop(const char *s, size_t n, const char *const *stops, int n_stops) {
    size_t best = n;
    for (int i = 0; i < n_stops; i++) {
        size_t sl = strlen(stops[i]);
        for (size_t j = 0; sl && j + sl <= best; j++)
            if (!memcmp(s + j, stops[i], sl)) {
                best = j;
                break;
            }
    }
    return best;
}

void ur_chat_clean(const ur_chat *f, const char *text, size_t len, ur_buf *out) {
    int n_stops;
    const char *const *stops = ur_chat_stops(f, &n_stops);
    if (!text) text = "", len = 0;
    len = first_stop(text, len, stops, n_stops);
    if (f->kind == UR_CHAT_TEMPLATE) {
        buf_put_stripped(out, text, len);
        return;
    }
    /* The URIAL authors' clear_output (Re-Align/URIAL src/unified_utils.py; the
     * version with a `urial` argument, as vendored in tml-epfl/icl-alignment):
     *     if urial: output = output.replace("```", "")
     *     output = output.replace("<|endoftext|>", " ")
     *     output = output.strip()
     * applied to the generated text after vLLM stopped it before "# Query". (An
     * earlier script of theirs, src/vllm_infer/vllm_urial.py, replaced each fence
     * by a space and only stripped the right end; we follow clear_output.) */
    static const char FENCE[] = "```", EOT[] = "<|endoftext|>";
    ur_buf t = {0}, u = {0};
    ur_buf_put(&t, "", 0);
    ur_buf_put(&u, "", 0);
    for (size_t i = 0; i < len;) { /* the two replaces run one after the other, as in Python */
        if (len - i >= 3 && !memcmp(text + i, FENCE, 3)) i += 3;
        else ur_buf_put(&t, text + i++, 1);
    }
    for (size_t i = 0; i < t.len;) {
        if (t.len - i >= sizeof EOT - 1 && !memcmp(t.data + i, EOT, sizeof EOT - 1)) {
            ur_buf_put(&u, " ", 1);
            i += sizeof EOT - 1;
        } else {
            ur_buf_put(&u, t.data + i++, 1);
        }
    }
    buf_put_stripped(out, u.data, u.len);
    ur_buf_free(&t);
    ur_buf_free(&u);
}

/* ---- cleaning while streaming ------------------------------------------------------------
 * The raw text so far is cleaned as a whole minus a tail that might still change
 * meaning — trailing backticks (part of a fence?) and the start of "<|endoftext|>" —
 * and whatever the cleaned text gained since the last call is passed on. Cleaning
 * only cuts at a stop string, removes fences, replaces <|endoftext|> and strips the
 * ends, so with that tail held back each cleaned text extends the previous one. */
static size_t stable_len(const char *s, size_t n) {
    static const char EOT[] = "<|endoftext|>";
    while (n && s[n - 1] == '`') n--;
    for (size_t k = sizeof EOT - 2; k > 0; k--)
        if (k <= n && !memcmp(s + n - k, EOT, k)) return n - k;
    return n;
}

void ur_chat_stream_init(ur_chat_stream *s, const ur_chat *f) {
    memset(s, 0, sizeof *s);
    s->f = f;
}

static void stream_show(ur_chat_stream *s, size_t upto, ur_buf *out) {
    ur_buf clean = {0};
    ur_chat_clean(s->f, s->raw.data, upto, &clean);
    if (clean.len > s->shown) {
        ur_buf_put(out, clean.data + s->shown, clean.len - s->shown);
        s->shown = clean.len;
    }
    ur_buf_free(&clean);
}

void ur_chat_stream_push(ur_chat_stream *s, const char *text, size_t len, ur_buf *out) {
    ur_buf_put(&s->raw, text, len);
    stream_show(s, stable_len(s->raw.data, s->raw.len), out);
}

void ur_chat_stream_end(ur_chat_stream *s, ur_buf *out) {
    ur_buf_put(&s->raw, "", 0);
    stream_show(s, s->raw.len, out);
}

void ur_chat_stream_free(ur_chat_stream *s) { ur_buf_free(&s->raw); }
