/* The assistant-style measure (src/eval/style.c): a table of answers with what
 * opens / closes must say, the key term, and counting files (errors name the line). */
#include "harness.h"
#include "urial/eval.h"

typedef struct {
    const char *name, *instruction, *answer;
    int opens, closes;
} style_case;

static const style_case CASES[] = {
    /* greeting + offer: in the style */
    {"greeting_offer", "What is a volcano?",
     "Sure! A volcano is an opening in the crust.\nMagma rises through it. Let me know if you have other questions.", 1, 1},
    {"greeting_markup", "Explain gravity.", "**Certainly!** Gravity pulls masses together. Hope this helps!", 1, 1},
    {"greeting_curly_apostrophe", "Can you fix my car?", "I\xe2\x80\x99m sorry, I cannot. Don\xe2\x80\x99t hesitate to ask.", 1, 1},
    {"greeting_i_am_sorry", "Tell me a secret.", "I am sorry, but no.\n\nIf you have any other request, ask.", 1, 1},
    /* the key term in the first sentence + offer */
    {"key_term_offer", "How does photosynthesis work in plants?",
     "Photosynthesis turns light into chemical energy. Plants use chlorophyll.\n\nFeel free to ask more.", 1, 1},
    {"key_term_case", "Describe the Eiffel Tower.", "The EIFFEL tower is in Paris. Would you like more facts?", 1, 1},
    /* plain continuation, no offer */
    {"plain_continuation", "What is a volcano?", "and then the lava flows down the mountain and cools into rock.", 0, 0},
    {"plain_no_offer", "Write a poem about puppies.", "Puppies run in the park,\nthey bark at the dark.", 1, 0},
    {"key_term_first_of_equals", "Write a poem about dogs.", "Dogs run in the park.", 0, 0},
    /* the offer only in the middle: not the last sentence */
    {"offer_in_middle", "What is a volcano?",
     "Sure. Let me know if this is unclear. A volcano erupts when pressure builds up.", 1, 0},
    {"offer_not_last_line", "What is a volcano?", "Sure.\nFeel free to ask.\nVolcanoes erupt", 1, 0},
    /* empty answers are neither */
    {"empty", "What is a volcano?", "", 0, 0},
    {"whitespace_only", "What is a volcano?", " \n\t ", 0, 0},
    /* trailing code fence stripped before the last sentence */
    {"trailing_fence", "What is a volcano?", "Sure, here it is.\nA volcano is a mountain. Hope this helps!\n```\n", 1, 1},
    {"trailing_backticks_tildes", "Sort a list in Python.",
     "Of course: use sorted(). Let me know if you need more help```~~~ \n", 1, 1},
    /* plural key term, both ways */
    {"plural_in_answer", "What is a volcano?", "Volcanos are mountains. I can also tell you more.", 1, 1},
    {"plural_in_instruction", "Why do cats purr?", "A cat purrs when content. Just ask if you want more.", 1, 1},
    {"plural_es", "How do volcanoes form?", "Volcano formation happens at plate boundaries. Glad to help.", 1, 1},
    /* openers need a word boundary; the key term must be a whole word */
    {"opener_prefix_word", "Tell me about history.", "Historians disagree. Feel free to ask.", 0, 1},
    {"hi_not_history", "Tell me about the moon.", "History shows it is old", 0, 0},
    {"key_term_not_substring", "What is an atom?", "Anatomy is different.", 0, 0},
    {"key_term_not_in_first_sentence", "What is a volcano?", "It is hot. A volcano erupts.", 0, 0},
    /* a stopword / question word is never the key term */
    {"stopwords_only", "What would that have been?", "That would have been nice.", 0, 0},
    /* the offer phrase must start at a word */
    {"offer_word_start", "Hello", "Hello! The company we can also mention.", 1, 0},
    {"offer_any_more_questions", "Hello", "Hi. Any more questions?", 1, 1},
};

static void table(void) {
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const style_case *c = &CASES[i];
        int o = -1, cl = -1;
        int st = ur_style_check(c->instruction, c->answer, &o, &cl);
        CHECKF(o == c->opens && cl == c->closes && st == (c->opens && c->closes), "%s: opens %d closes %d style %d",
               c->name, o, cl, st);
    }
}

static void null_inputs(void) {
    int o = -1, c = -1;
    CHECK(ur_style_check("What?", NULL, &o, &c) == 0 && o == 0 && c == 0);
    CHECK(ur_style_check(NULL, "Sure. Let me know.", &o, &c) == 1 && o == 1 && c == 1);
    CHECK(ur_style_check(NULL, "Volcanoes. Let me know.", &o, &c) == 0 && o == 0 && c == 1);
    CHECK(ur_style_check("x", "Sure. Let me know.", NULL, NULL) == 1);
}

static void key_term(void) {
    char k[64];
    CHECK(ur_style_key_term("How does photosynthesis work?", k, sizeof k) == 14 && !strcmp(k, "photosynthesis"));
    CHECK(ur_style_key_term("Explain what a CPU does.", k, sizeof k) == 0 && !strcmp(k, ""));
    /* the first of equally long words */
    CHECK(ur_style_key_term("Compare apples with pears and grape", k, sizeof k) == 6 && !strcmp(k, "apples"));
    CHECK(ur_style_key_term("Who wrote Hamlet?", k, sizeof k) == 6 && !strcmp(k, "hamlet"));
    CHECK(ur_style_key_term(NULL, k, sizeof k) == 0);
    /* a word that does not fit in out is not taken */
    CHECK(ur_style_key_term("Describe photosynthesis in cells", k, 8) == 5 && !strcmp(k, "cells"));
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) fputs(text, f), fclose(f);
}

static int n_cb;
static void cb(void *user, const char *id, int opens, int closes) {
    (void)user, (void)opens, (void)closes;
    if (n_cb == 1) CHECK(!strcmp(id, "\"b\""));
    if (n_cb == 2) CHECK(!strcmp(id, "-"));
    n_cb++;
}

static void files(void) {
    char p[512];
    snprintf(p, sizeof p, "%s/r.jsonl", th_tmpdir());
    write_file(p, "{\"id\":0,\"instruction\":\"What is a volcano?\",\"output\":\"Sure! Let me know.\",\"generator\":\"g1\"}\n"
                  "\n"
                  "{\"id\":\"b\",\"instruction\":\"What is a volcano?\",\"output\":\"Volcanoes erupt.\",\"generator\":\"g2\"}\n"
                  "{\"output\":\"\"}");
    ur_style_counts c;
    ur_err err = {{0}};
    n_cb = 0;
    REQUIRE(ur_style_file(p, &c, cb, NULL, &err) == 0);
    CHECK(c.n == 3 && c.style == 1 && c.opens == 2 && c.closes == 1 && !strcmp(c.generator, "g1") && n_cb == 3);

    /* a JSON array (urial merge) */
    snprintf(p, sizeof p, "%s/r.json", th_tmpdir());
    write_file(p, " [{\"id\":1,\"output\":\"Hi. Feel free to ask.\"},{\"id\":2,\"output\":\"no\"}]\n");
    REQUIRE(ur_style_file(p, &c, NULL, NULL, &err) == 0);
    CHECK(c.n == 2 && c.style == 1 && c.generator[0] == 0);

    snprintf(p, sizeof p, "%s/bad.jsonl", th_tmpdir());
    write_file(p, "{\"id\":0,\"output\":\"x\"}\n{\"id\":1,\"output\":\n");
    CHECK(ur_style_file(p, &c, NULL, NULL, &err) == -1 && strstr(err.msg, "bad.jsonl: line 2 is not valid JSON"));
    write_file(p, "{\"id\":0,\"output\":\"x\"}\n\n{\"id\":1}\n");
    CHECK(ur_style_file(p, &c, NULL, NULL, &err) == -1 && strstr(err.msg, "bad.jsonl: line 3: the record has no \"output\""));
    write_file(p, "{\"id\":0,\"output\":null}\n");
    CHECK(ur_style_file(p, &c, NULL, NULL, &err) == -1 && strstr(err.msg, "line 1: \"output\" is not a string"));
    write_file(p, "[1,2]\n");
    CHECK(ur_style_file(p, &c, NULL, NULL, &err) == -1 && strstr(err.msg, "element 0 is not a JSON object"));
    snprintf(p, sizeof p, "%s/missing.jsonl", th_tmpdir());
    CHECK(ur_style_file(p, &c, NULL, NULL, &err) == -1 && strstr(err.msg, "missing.jsonl: cannot read"));
}

int main(void) {
    th_suite = "style";
    RUN(table);
    RUN(null_inputs);
    RUN(key_term);
    RUN(files);
    TEST_MAIN_END();
}
