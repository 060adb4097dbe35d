/* urial eval style: is an answer "in the assistant style"? A cheap, judge-free
 * measure of the surface form aligned models share (an answer that opens by
 * addressing the question and closes with an offer of more help), to compare a
 * base model with and without URIAL and its aligned twin. The exact rules are in
 * include/urial/eval.h and docs/eval.md "Style"; the lists below are part of the
 * definition. Text is bytes: words are runs of ASCII letters, case is ASCII case. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "urial/eval.h"

const char UR_STYLE_MEASURE[] =
    "An answer is in the assistant style when its first sentence starts with an acknowledgement or greeting "
    "(sure, certainly, of course, great/good question, hello, hi, hey, yes, absolutely, happy to help, glad you "
    "asked, thanks for asking, i'm/i am sorry, sorry) or contains the instruction's key term (its longest word of "
    "4+ letters that is not a stopword or question word, matched as a whole word, case-insensitively, with or "
    "without a plural s/es) AND its last sentence, after trailing whitespace, backticks and tildes are removed, "
    "contains an offer (let me know, feel free, hope this/that helps, happy to help, would you like, just ask, any "
    "other/more question, if you have any, don't hesitate, glad to help, i can help, i can also); sentences end at "
    ". ! or ? followed by whitespace, or at a line break; empty answers are neither.";

/* Openers: the first sentence starts with one of these (then a non-letter). */
static const char *const OPENERS[] = {
    "sure", "certainly", "of course", "great question", "good question", "hello", "hi", "hey", "yes",
    "absolutely", "happy to help", "glad you asked", "thanks for asking", "i'm sorry", "i am sorry", "sorry",
};
/* Offers: the last sentence contains one of these (starting at a word). */
static const char *const OFFERS[] = {
    "let me know", "feel free", "hope this helps", "hope that helps", "happy to help", "would you like",
    "just ask", "any other question", "any more question", "if you have any", "don't hesitate", "glad to help",
    "i can help", "i can also",
};
/* Words (of 4+ letters) never taken as the key term: question words, function
 * words, and the verbs instructions are phrased with. */
static const char *const STOPWORDS[] = {
    /* question words */
    "what", "whats", "when", "where", "which", "whom", "whose", "whether", "whatever", "whenever", "wherever",
    "whichever", "whoever", "however",
    /* function words */
    "about", "above", "after", "again", "against", "also", "although", "among", "another", "anyone",
    "anything", "around", "because", "been", "before", "being", "below", "between", "both", "could", "does",
    "doing", "done", "down", "during", "each", "either", "else", "even", "ever", "every", "from", "further",
    "have", "having", "here", "into", "itself", "just", "know", "like", "made", "make", "many", "might", "more",
    "most", "much", "must", "need", "neither", "never", "often", "once", "only", "other", "others", "ought",
    "ours", "over", "please", "really", "same", "should", "since", "some", "something", "still", "such", "than",
    "that", "their", "theirs", "them", "themselves", "then", "there", "these", "they", "thing", "things",
    "this", "those", "though", "through", "thus", "under", "until", "upon", "very", "want", "well", "were",
    "will", "with", "within", "without", "would", "your", "yours", "yourself",
    /* instruction verbs */
    "tell", "give", "explain", "describe", "write", "list", "provide", "create", "generate", "suggest", "help",
    "show", "find", "compare", "summarize", "define", "recommend",
};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static int is_letter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_alnum(unsigned char c) { return is_letter(c) || (c >= '0' && c <= '9'); }
static int is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static int is_end_mark(unsigned char c) { return c == '.' || c == '!' || c == '?'; }

/* Does phrase match at p (before end)? Case-insensitive; a space in the phrase
 * matches a run of whitespace, an apostrophe matches ' or U+2019. Returns the
 * bytes matched, or 0. */
static size_t phrase_at(const char *p, const char *end, const char *phrase) {
    const char *q = p;
    for (const char *f = phrase; *f; f++) {
        if (*f == ' ') {
            if (q >= end || !is_space((unsigned char)*q)) return 0;
            while (q < end && is_space((unsigned char)*q)) q++;
        } else if (*f == '\'') {
            if (q < end && *q == '\'') q++;
            else if (end - q >= 3 && !memcmp(q, "\xe2\x80\x99", 3)) q += 3;
            else return 0;
        } else {
            if (q >= end || tolower((unsigned char)*q) != *f) return 0;
            q++;
        }
    }
    return (size_t)(q - p);
}

/* The first sentence of s: [*b, *e). Leading whitespace skipped; it ends after the
 * first . ! ? followed by whitespace or the end, or before the first line break. */
static void first_sentence(const char *s, const char **b, const char **e) {
    while (is_space((unsigned char)*s)) s++;
    const char *p = s;
    for (; *p; p++) {
        if (*p == '\n' || *p == '\r') break;
        if (is_end_mark((unsigned char)*p) && (!p[1] || is_space((unsigned char)p[1]))) {
            p++;
            break;
        }
    }
    *b = s, *e = p;
}

/* The last sentence of s: trailing whitespace, ` and ~ removed; it starts after the
 * last line break or . ! ? followed by whitespace before that end. Empty: *b == *e. */
static void last_sentence(const char *s, const char **b, const char **e) {
    const char *end = s + strlen(s);
    while (end > s && (is_space((unsigned char)end[-1]) || end[-1] == '`' || end[-1] == '~')) end--;
    const char *p = end;
    while (p > s) {
        unsigned char c = (unsigned char)p[-1];
        if (c == '\n' || c == '\r') break;
        if (p < end && is_end_mark(c) && is_space((unsigned char)*p)) break;
        p--;
    }
    while (p < end && is_space((unsigned char)*p)) p++;
    *b = p, *e = end;
}

static int is_stopword(const char *w) {
    for (size_t i = 0; i < N_OF(STOPWORDS); i++)
        if (!strcmp(w, STOPWORDS[i])) return 1;
    return 0;
}

size_t ur_style_key_term(const char *instruction, char *out, size_t cap) {
    size_t best = 0;
    if (cap) out[0] = 0;
    if (!instruction || cap < 2) return 0;
    char w[256];
    for (const char *p = instruction; *p;) {
        if (!is_letter((unsigned char)*p)) {
            p++;
            continue;
        }
        const char *q = p;
        while (is_letter((unsigned char)*q)) q++;
        size_t n = (size_t)(q - p);
        if (n >= 4 && n > best && n < sizeof w && n < cap) {
            for (size_t i = 0; i < n; i++) w[i] = (char)tolower((unsigned char)p[i]);
            w[n] = 0;
            if (!is_stopword(w)) {
                memcpy(out, w, n + 1);
                best = n;
            }
        }
        p = q;
    }
    return best;
}

/* Is the word [w, w+n) the key term k (lower case, kn bytes), or it with or without
 * a plural "s" / "es"? */
static int key_match(const char *w, size_t n, const char *k, size_t kn) {
    char lw[256];
    if (n >= sizeof lw) return 0;
    for (size_t i = 0; i < n; i++) lw[i] = (char)tolower((unsigned char)w[i]);
    if (n == kn) return !memcmp(lw, k, n);
    if (n == kn + 1) return !memcmp(lw, k, kn) && lw[kn] == 's';
    if (n == kn + 2) return !memcmp(lw, k, kn) && lw[kn] == 'e' && lw[kn + 1] == 's';
    if (kn == n + 1) return !memcmp(lw, k, n) && k[n] == 's';
    if (kn == n + 2) return !memcmp(lw, k, n) && k[n] == 'e' && k[n + 1] == 's';
    return 0;
}

static int opens_check(const char *instruction, const char *answer) {
    const char *b, *e;
    first_sentence(answer, &b, &e);
    /* an opener at the start, after any markup (**, #, >, quotes, an emoji) */
    const char *p = b;
    while (p < e && !is_alnum((unsigned char)*p)) p++;
    for (size_t i = 0; i < N_OF(OPENERS); i++) {
        size_t n = phrase_at(p, e, OPENERS[i]);
        if (n && (p + n == e || !is_alnum((unsigned char)p[n]))) return 1;
    }
    char key[256];
    size_t kn = ur_style_key_term(instruction, key, sizeof key);
    if (!kn) return 0;
    for (p = b; p < e;) {
        if (!is_letter((unsigned char)*p)) {
            p++;
            continue;
        }
        const char *q = p;
        while (q < e && is_letter((unsigned char)*q)) q++;
        if (key_match(p, (size_t)(q - p), key, kn)) return 1;
        p = q;
    }
    return 0;
}

static int closes_check(const char *answer) {
    const char *b, *e;
    last_sentence(answer, &b, &e);
    for (const char *p = b; p < e; p++) {
        if (p > b && is_alnum((unsigned char)p[-1])) continue; /* phrases start at a word */
        for (size_t i = 0; i < N_OF(OFFERS); i++)
            if (phrase_at(p, e, OFFERS[i])) return 1;
    }
    return 0;
}

int ur_style_check(const char *instruction, const char *answer, int *opens, int *closes) {
    int o = 0, c = 0;
    if (answer) {
        const char *p = answer;
        while (is_space((unsigned char)*p)) p++;
        if (*p) {
            o = opens_check(instruction, answer);
            c = closes_check(answer);
        }
    }
    if (opens) *opens = o;
    if (closes) *closes = c;
    return o && c;
}

/* ---- files --------------------------------------------------------------------------- */
/* Count one record (line: 1-based line, or 0 for an element of a JSON array, where
 * `index` names it instead). */
static int count_record(const char *path, json_t *o, int line, long index, ur_style_counts *c, ur_style_record_fn fn,
                        void *user, ur_err *err) {
    char where[64];
    if (line) snprintf(where, sizeof where, "line %d", line);
    else snprintf(where, sizeof where, "element %ld", index);
    if (!json_is_object(o)) return ur_errf(err, "%s: %s is not a JSON object", path, where);
    json_t *out = json_object_get(o, "output");
    if (!out) return ur_errf(err, "%s: %s: the record has no \"output\"", path, where);
    if (!json_is_string(out)) return ur_errf(err, "%s: %s: \"output\" is not a string", path, where);
    json_t *ins = json_object_get(o, "instruction");
    if (ins && !json_is_string(ins)) return ur_errf(err, "%s: %s: \"instruction\" is not a string", path, where);
    int op, cl;
    int st = ur_style_check(ins ? json_string_value(ins) : NULL, json_string_value(out), &op, &cl);
    if (c->n == 0) {
        json_t *g = json_object_get(o, "generator");
        if (json_is_string(g)) snprintf(c->generator, sizeof c->generator, "%s", json_string_value(g));
    }
    c->n++, c->style += st, c->opens += op, c->closes += cl;
    if (fn) {
        json_t *id = json_object_get(o, "id");
        char *ids = id ? json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        fn(user, ids ? ids : "-", op, cl);
        free(ids);
    }
    return 0;
}

int ur_style_file(const char *path, ur_style_counts *c, ur_style_record_fn fn, void *user, ur_err *err) {
    memset(c, 0, sizeof *c);
    ur_buf b = {0};
    if (ur_read_file(path, "results file", 0, &b, err)) {
        ur_buf_free(&b);
        return -1;
    }
    int rc = 0;
    const char *s = b.data;
    while (is_space((unsigned char)*s)) s++;
    if (*s == '[') { /* a JSON array (urial merge, just-eval) */
        json_error_t je;
        json_t *a = json_loadb(b.data, b.len, 0, &je);
        if (!a) {
            rc = ur_errf(err, "%s: line %d is not valid JSON (%s)", path, je.line, je.text);
        } else {
            for (size_t i = 0; i < json_array_size(a) && !rc; i++)
                rc = count_record(path, json_array_get(a, i), 0, (long)i, c, fn, user, err);
            json_decref(a);
        }
    } else { /* JSON lines; blank lines are skipped */
        int line = 0;
        for (const char *p = b.data; *p && !rc;) {
            const char *nl = strchr(p, '\n');
            size_t n = nl ? (size_t)(nl - p) : strlen(p);
            line++;
            size_t k = 0;
            while (k < n && is_space((unsigned char)p[k])) k++;
            if (k < n) {
                json_error_t je;
                json_t *o = json_loadb(p, n, 0, &je);
                if (!o) rc = ur_errf(err, "%s: line %d is not valid JSON (%s, column %d)", path, line, je.text, je.column);
                else rc = count_record(path, o, line, 0, c, fn, user, err);
                json_decref(o);
            }
            p += n + (nl != NULL);
        }
    }
    ur_buf_free(&b);
    return rc;
}
