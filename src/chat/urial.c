/* URIAL prompts: the built-in ones (our own text, the text files in data/urial/, compiled in by
 * tools/embed.sh), prompt files in the URIAL authors' format, and the rendering of
 * a conversation after the prompt text.
 *
 * Reference for the format: Re-Align/URIAL, src/unified_utils.py (apply_template:
 * the prompt file becomes the system message of the "urial_backticks" template,
 * or "urial_v5" / "urial_v6" when the file name contains "inst_help_v5" /
 * "inst_help_v6") and src/fastchat_conversation.py (SeparatorStyle.URIAL and
 * URIAL_V6 in get_prompt()). Those templates render, after the system message,
 * each message as
 *     "\n" + role + "\n" + sep + "\n" + message + "\n" + sep2 + "\n"
 * and the open assistant turn as "\n" + role + "\n" + sep + "\n", with roles
 * ("# Query:", "# Answer:") and sep = sep2 = "```" for urial_backticks, roles
 * ("# User:", "# Assistant:") and empty seps for urial_v5; URIAL_V6 renders
 * "\n\n" + role + "\n" + message.strip("\n") + "\n" and "\n\n" + role + "\n". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chat/chat_int.h"

/* ---- built-in prompts ------------------------------------------------------------ */
/* The pieces, generated from data/urial/ (see tools/embed.sh). A built-in prompt is
 * system.txt, then its examples, separated by blank lines, ending in one newline:
 * rendering then puts a blank line before the new "# Query:" too, exactly like the
 * blank lines between the examples. (The authors' files end in "```" without a
 * newline, so their query follows the last example after a single newline.) */
#define EMBED(n) extern const unsigned char ur_embed_##n[]; extern const size_t ur_embed_##n##_len;
EMBED(system_txt)
EMBED(ex_vaccines_txt)
EMBED(ex_interview_txt)
EMBED(ex_palindrome_txt)
EMBED(ex_train_txt)
EMBED(ex_email_txt)
EMBED(ex_renting_txt)
EMBED(ex_rome_txt)
EMBED(ex_sleep_txt)
EMBED(ex_wifi_refusal_txt)
#undef EMBED

typedef struct piece {
    const unsigned char *text;
    const size_t *len;
} piece;
#define P(n) {ur_embed_##n, &ur_embed_##n##_len}
enum { VACCINES, INTERVIEW, PALINDROME, TRAIN, EMAIL, RENTING, ROME, SLEEP, WIFI_REFUSAL, N_EXAMPLES };
static const piece EXAMPLES[N_EXAMPLES] = {
    P(ex_vaccines_txt), P(ex_interview_txt), P(ex_palindrome_txt), P(ex_train_txt),        P(ex_email_txt),
    P(ex_renting_txt),  P(ex_rome_txt),      P(ex_sleep_txt),      P(ex_wifi_refusal_txt),
};
static const piece SYSTEM = P(system_txt);
#undef P

/* Token counts are under the Llama-2 tokenizer (tests/unit/test_chat.c checks them). */
static const struct builtin {
    ur_chat_info info;
    int n_ex;
    int ex[8];
} BUILTINS[] = {
    {{"urial-k0", "system preamble only, no examples (K=0; ~0.2k Llama-2 tokens)"}, 0, {0}},
    {{"urial-k1", "preamble + 1 example: a science explanation (K=1; ~0.6k tokens)"}, 1, {VACCINES}},
    {{"urial-k3", "preamble + 3 examples: science, planning, code (K=3; ~1.3k tokens; the default)"},
     3,
     {VACCINES, INTERVIEW, PALINDROME}},
    {{"urial-k3-safe", "as urial-k3, with a polite refusal of a harmful request instead of the code example"},
     3,
     {VACCINES, INTERVIEW, WIFI_REFUSAL}},
    {{"urial-k8", "preamble + 8 examples: + arithmetic, email, comparison, history, health (K=8; ~3.2k tokens)"},
     8,
     {VACCINES, INTERVIEW, PALINDROME, TRAIN, EMAIL, RENTING, ROME, SLEEP}},
};
#define N_BUILTINS (int)(sizeof BUILTINS / sizeof BUILTINS[0])

const ur_chat_info *urial_list(int *n) {
    static ur_chat_info list[N_BUILTINS];
    for (int i = 0; i < N_BUILTINS; i++) list[i] = BUILTINS[i].info;
    *n = N_BUILTINS;
    return list;
}

/* A piece without its trailing newlines. */
static void put_piece(ur_buf *b, const piece *p) {
    size_t n = *p->len;
    while (n && p->text[n - 1] == '\n') n--;
    ur_buf_put(b, p->text, n);
}

static ur_chat *builtin(const struct builtin *bi) {
    ur_buf b = {0};
    put_piece(&b, &SYSTEM);
    for (int i = 0; i < bi->n_ex; i++) {
        ur_buf_put(&b, "\n\n", 2);
        put_piece(&b, &EXAMPLES[bi->ex[i]]);
    }
    ur_buf_put(&b, "\n", 1);
    ur_chat *f = chat_new(UR_CHAT_URIAL, bi->info.name);
    f->style = URIAL_BACKTICKS;
    f->prompt = b.data;
    f->prompt_len = b.len;
    return f;
}

/* ---- prompt files ------------------------------------------------------------------ */
/* Offset of the first byte that is not strict UTF-8 (what Python's "utf-8" codec
 * accepts: no overlong forms, no surrogates, nothing above U+10FFFF), or n. */
static size_t utf8_invalid_at(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t l;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c < 0x80) { i++; continue; }
        else if (c >= 0xC2 && c <= 0xDF) l = 2;
        else if (c >= 0xE0 && c <= 0xEF) { l = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
        else if (c >= 0xF0 && c <= 0xF4) { l = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
        else return i;
        if (i + l > n || s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < l; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += l;
    }
    return n;
}

/* The file's text as Python's open(path, encoding="utf-8").read() gives it: \r\n
 * and lone \r become \n (universal newlines); everything else is unchanged. */
static char *read_prompt_file(const char *path, size_t *len, ur_err *err) {
    ur_buf raw = {0};
    if (ur_read_file(path, "URIAL prompt file", 64u << 20, &raw, err)) {
        ur_buf_free(&raw);
        return NULL;
    }
    size_t at = utf8_invalid_at((const unsigned char *)raw.data, raw.len);
    if (at < raw.len) {
        ur_buf_free(&raw);
        return ur_errf(err, "%s: URIAL prompt file is not valid UTF-8 (byte offset %zu)", path, at), NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < raw.len; i++) {
        if (raw.data[i] == '\r') {
            raw.data[o++] = '\n';
            if (i + 1 < raw.len && raw.data[i + 1] == '\n') i++;
        } else {
            raw.data[o++] = raw.data[i];
        }
    }
    raw.data[o] = 0;
    *len = o;
    return raw.data;
}

static int is_builtin_like(const char *s) { return !strchr(s, '/') && !strchr(s, '.'); }

ur_chat *ur_chat_urial(const char *arg, ur_err *err) {
    if (!arg || !*arg) return ur_errf(err, "URIAL prompt: empty name"), NULL;
    for (int i = 0; i < N_BUILTINS; i++)
        if (!strcmp(arg, BUILTINS[i].info.name)) return builtin(&BUILTINS[i]);
    struct stat st;
    if (stat(arg, &st) && errno == ENOENT && is_builtin_like(arg)) {
        ur_buf names = {0};
        for (int i = 0; i < N_BUILTINS; i++) ur_buf_printf(&names, "%s%s", i ? ", " : "", BUILTINS[i].info.name);
        ur_errf(err, "unknown URIAL prompt '%s' (built-in: %s; or give the path of a prompt file)", arg, names.data);
        ur_buf_free(&names);
        return NULL;
    }
    size_t len;
    char *text = read_prompt_file(arg, &len, err);
    if (!text) return NULL;
    ur_chat *f = chat_new(UR_CHAT_URIAL, arg);
    f->prompt = text;
    f->prompt_len = len;
    const char *base = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;
    f->style = strstr(base, "inst_help_v5") ? URIAL_V5 : strstr(base, "inst_help_v6") ? URIAL_V6 : URIAL_BACKTICKS;
    size_t b, e;
    py_strip(text, len, &b, &e);
    if (b == e) {
        ur_buf w = {0};
        ur_buf_printf(&w, "%s: the URIAL prompt file is %s; the prompt has no system preamble and no examples "
                          "(zero-shot)", arg, len ? "blank" : "empty");
        f->warning = w.data;
    }
    return f;
}

ur_chat *ur_chat_urial_text(const char *name, const char *text, size_t len, ur_err *err) {
    if (!text && len) return ur_errf(err, "%s: no prompt text", name ? name : "URIAL prompt"), NULL;
    ur_chat *f = chat_new(UR_CHAT_URIAL, name ? name : "URIAL prompt");
    f->prompt = ur_xmalloc(len + 1);
    if (len) memcpy(f->prompt, text, len);
    f->prompt[len] = 0;
    f->prompt_len = len;
    f->style = URIAL_BACKTICKS;
    return f;
}

/* ---- rendering ----------------------------------------------------------------------- */
static void put_turn(const ur_chat *f, ur_buf *out, int role, const char *msg, size_t len) {
    int user = role == UR_ROLE_USER;
    switch (f->style) {
    case URIAL_BACKTICKS: /* "\n# Query:\n```\n" + msg + "\n```\n" */
        ur_buf_puts(out, user ? "\n# Query:\n```\n" : "\n# Answer:\n```\n");
        if (msg) {
            ur_buf_put(out, msg, len);
            ur_buf_puts(out, "\n```\n");
        }
        break;
    case URIAL_V5: /* "\n# User:\n\n" + msg + "\n\n" */
        ur_buf_puts(out, user ? "\n# User:\n\n" : "\n# Assistant:\n\n");
        if (msg) {
            ur_buf_put(out, msg, len);
            ur_buf_puts(out, "\n\n");
        }
        break;
    case URIAL_LEGACY:
    case URIAL_ZERO_SHOT:
    case URIAL_RETRIEVE: legacy_turn(f, out, role, msg, len); break;
    default: /* URIAL_V6: "\n\n# User:\n" + msg.strip("\n") + "\n" */
        ur_buf_puts(out, user ? "\n\n# User:\n" : "\n\n# Assistant:\n");
        if (msg) {
            size_t b = 0, e = len;
            while (b < e && msg[b] == '\n') b++;
            while (e > b && msg[e - 1] == '\n') e--;
            ur_buf_put(out, msg + b, e - b);
            ur_buf_puts(out, "\n");
        }
        break;
    }
}

int urial_render(const ur_chat *f, const ur_msg *m, int n, int gen, int bare, ur_buf *out) {
    ur_buf_put(out, f->prompt, f->prompt_len);
    int last = n - 1; /* the examples are retrieved for the last user message */
    while (last >= 0 && m[last].role != UR_ROLE_USER) last--;
    if (f->style == URIAL_RETRIEVE && !bare && last >= 0)
        retrieval_examples(f, m[last].content ? m[last].content : "", m[last].content ? m[last].len : 0, out);
    for (int i = 0; i < n; i++) put_turn(f, out, m[i].role, m[i].content ? m[i].content : "", m[i].content ? m[i].len : 0);
    if (gen) put_turn(f, out, UR_ROLE_ASSISTANT, NULL, 0);
    return 0;
}

const char *const *urial_stops(const ur_chat *f, int *n) {
    static const char *const QUERY[] = {"# Query", "\n --- \n"}, *const USER[] = {"# User"};
    /* the zero-shot and retrieval formats close an answer with " ``` \n --- \n" (the
     * examples' separator): the authors' postprocess cut a trailing "---" */
    *n = f->style == URIAL_ZERO_SHOT || f->style == URIAL_RETRIEVE ? 2 : 1;
    return f->style == URIAL_V5 || f->style == URIAL_V6 ? USER : QUERY;
}
