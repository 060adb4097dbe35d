/* Aligned-model chat templates, each written out by hand from its reference so
 * that the rendered text is byte-identical to what the model family's own
 * template gives (no Jinja engine: eight fixed templates do not need one).
 *
 * The reference for each (the Jinja `chat_template` in the model's
 * tokenizer_config.json, rendered by transformers with trim_blocks and
 * lstrip_blocks, or FastChat's conversation.py where the model ships none) is
 * cited above its renderer. Conventions used below, all from those templates:
 *   - "strip"/"trim" is Python's str.strip() (Jinja's trim filter calls it);
 *   - bos/eos are the Llama/Mistral "<s>"/"</s>" unless said otherwise;
 *   - the callers have checked the roles (chat.c): an optional system message
 *     first, then user/assistant alternating from user. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "chat/chat_int.h"

typedef void (*render_fn)(const ur_msg *m, int n, int gen, ur_buf *out);

struct tmpl_def {
    ur_chat_info info;
    int add_bos;          /* 0: the rendered text spells BOS itself */
    int system;           /* 1: a system message has a place */
    const char *stops[2]; /* end-of-turn text, NULL-terminated */
    render_fn render;
};

static void put(ur_buf *b, const char *s) { ur_buf_puts(b, s); }
/* A NULL content is an empty message. */
static void put_msg(ur_buf *b, const ur_msg *m) { ur_buf_put(b, m->content ? m->content : "", m->content ? m->len : 0); }
static void put_msg_stripped(ur_buf *b, const ur_msg *m) {
    buf_put_stripped(b, m->content ? m->content : "", m->content ? m->len : 0);
}

/* The system message, if any, and where the other messages start. */
static const ur_msg *split_system(const ur_msg *m, int n, int *first) {
    *first = n > 0 && m[0].role == UR_ROLE_SYSTEM;
    return *first ? &m[0] : NULL;
}

/* ---- llama-2 ----------------------------------------------------------------------- */
/* meta-llama/Llama-2-7b-chat-hf tokenizer_config.json:
 *   {% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}
 *   {% set system_message = messages[0]['content'] %}{% else %}... system_message = false ...
 *   {% for message in loop_messages %} ...alternation check...
 *   {% if loop.index0 == 0 and system_message != false %}
 *     {% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}
 *   {% else %}{% set content = message['content'] %}{% endif %}
 *   {% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}
 *   {% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}
 * It has no generation prompt: the text always ends after " [/INST]".
 * The "default system prompt" variant is transformers' LlamaTokenizer default
 * template with use_default_system_prompt=True: when there is no system message
 * and the first message does not contain "<<SYS>>", system_message is
 * DEFAULT_SYSTEM_PROMPT (transformers/models/llama/tokenization_llama.py, below;
 * Meta's demo copy of the text had two spaces after "being safe."). */
static const char LLAMA2_DEFAULT_SYSTEM[] =
    "You are a helpful, respectful and honest assistant. Always answer as helpfully as possible, while being safe. "
    "Your answers should not include any harmful, unethical, racist, sexist, toxic, dangerous, or illegal content. "
    "Please ensure that your responses are socially unbiased and positive in nature.\n\n"
    "If a question does not make any sense, or is not factually coherent, explain why instead of answering something "
    "not correct. If you don't know the answer to a question, please don't share false information.";

static void llama2_common(const ur_msg *m, int n, int default_system, ur_buf *out) {
    int first;
    const ur_msg *sys = split_system(m, n, &first);
    const char *sys_text = sys ? (sys->content ? sys->content : "") : NULL;
    size_t sys_len = sys && sys->content ? sys->len : 0;
    if (!sys && default_system && first < n && !strstr(m[first].content ? m[first].content : "", "<<SYS>>"))
        sys_text = LLAMA2_DEFAULT_SYSTEM, sys_len = sizeof LLAMA2_DEFAULT_SYSTEM - 1;
    ur_buf content = {0};
    for (int i = first; i < n; i++) {
        content.len = 0;
        if (i == first && sys_text) {
            put(&content, "<<SYS>>\n");
            ur_buf_put(&content, sys_text, sys_len);
            put(&content, "\n<</SYS>>\n\n");
        }
        put_msg(&content, &m[i]);
        if (m[i].role == UR_ROLE_USER) {
            put(out, "<s>[INST] ");
            buf_put_stripped(out, content.data, content.len);
            put(out, " [/INST]");
        } else {
            put(out, " ");
            buf_put_stripped(out, content.data, content.len);
            put(out, " </s>");
        }
    }
    ur_buf_free(&content);
}
static void render_llama2(const ur_msg *m, int n, int gen, ur_buf *out) { (void)gen, llama2_common(m, n, 0, out); }
static void render_llama2_sys(const ur_msg *m, int n, int gen, ur_buf *out) { (void)gen, llama2_common(m, n, 1, out); }

/* ---- mistral-instruct --------------------------------------------------------------- */
/* mistralai/Mistral-7B-Instruct-v0.2 tokenizer_config.json (the "v1" template with a
 * system prompt; llama.cpp tests/test-chat-template.cpp pins the same output):
 *   {{- bos_token }}{%- for message in loop_messages %}
 *     {%- if message['role'] == 'user' %}
 *       {%- if loop.first and system_message is defined %}
 *         {{- ' [INST] ' + system_message + '\n\n' + message['content'] + ' [/INST]' }}
 *       {%- else %}{{- ' [INST] ' + message['content'] + ' [/INST]' }}{%- endif %}
 *     {%- elif message['role'] == 'assistant' %}{{- ' ' + message['content'] + eos_token}}
 * No generation prompt. */
static void render_mistral(const ur_msg *m, int n, int gen, ur_buf *out) {
    (void)gen;
    int first;
    const ur_msg *sys = split_system(m, n, &first);
    put(out, "<s>");
    for (int i = first; i < n; i++) {
        if (m[i].role == UR_ROLE_USER) {
            put(out, " [INST] ");
            if (i == first && sys) {
                put_msg(out, sys);
                put(out, "\n\n");
            }
            put_msg(out, &m[i]);
            put(out, " [/INST]");
        } else {
            put(out, " ");
            put_msg(out, &m[i]);
            put(out, "</s>");
        }
    }
}

/* The template Mistral-7B-Instruct-v0.1/v0.2 first shipped (and many GGUFs carry):
 *   {{ bos_token }}{% for message in messages %}...
 *   {% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}
 *   {% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}
 *   {% else %}{{ raise_exception('Only user and assistant roles are supported!') }}
 * (no system role). */
static void render_mistral_legacy(const ur_msg *m, int n, int gen, ur_buf *out) {
    (void)gen;
    put(out, "<s>");
    for (int i = 0; i < n; i++) {
        if (m[i].role == UR_ROLE_USER) {
            put(out, "[INST] ");
            put_msg(out, &m[i]);
            put(out, " [/INST]");
        } else {
            put_msg(out, &m[i]);
            put(out, "</s>");
        }
    }
}

/* ---- vicuna-v1.1 ---------------------------------------------------------------------- */
/* lm-sys/FastChat fastchat/conversation.py, template "vicuna_v1.1": system_message
 * below, roles ("USER", "ASSISTANT"), SeparatorStyle.ADD_COLON_TWO, sep " ",
 * sep2 "</s>":  system + sep, then role + ": " + message + [sep, sep2][i % 2] per
 * message, and role + ":" for the open assistant turn. A system message replaces
 * the default one (set_system_message). Vicuna ships no chat_template. */
static const char VICUNA_SYSTEM[] = "A chat between a curious user and an artificial intelligence assistant. "
                                    "The assistant gives helpful, detailed, and polite answers to the user's questions.";

static void render_vicuna(const ur_msg *m, int n, int gen, ur_buf *out) {
    int first;
    const ur_msg *sys = split_system(m, n, &first);
    if (sys) put_msg(out, sys);
    else put(out, VICUNA_SYSTEM);
    put(out, " ");
    for (int i = first; i < n; i++) {
        put(out, m[i].role == UR_ROLE_USER ? "USER: " : "ASSISTANT: ");
        put_msg(out, &m[i]);
        put(out, m[i].role == UR_ROLE_USER ? " " : "</s>");
    }
    if (gen) put(out, "ASSISTANT:");
}

/* ---- zephyr and tulu -------------------------------------------------------------------- */
/* HuggingFaceH4/zephyr-7b-beta tokenizer_config.json:
 *   {% for message in messages %}\n{% if message['role'] == 'user' %}\n
 *   {{ '<|user|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n
 *   {{ '<|system|>\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n
 *   {{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% endif %}\n
 *   {% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}
 * With trim_blocks the newline after each {% %} tag disappears and the one after
 * each {{ }} stays, so every message ends in "</s>\n" and the generation prompt is
 * "<|assistant|>\n" (only after at least one message: it sits inside the loop). */
static void render_zephyr(const ur_msg *m, int n, int gen, ur_buf *out) {
    for (int i = 0; i < n; i++) {
        put(out, m[i].role == UR_ROLE_SYSTEM ? "<|system|>\n" : m[i].role == UR_ROLE_USER ? "<|user|>\n" : "<|assistant|>\n");
        put_msg(out, &m[i]);
        put(out, "</s>\n");
    }
    if (gen && n > 0) put(out, "<|assistant|>\n");
}

/* allenai/tulu-2-dpo-70b (and -7b, -13b) tokenizer_config.json:
 *   {% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] }}\n
 *   {% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n
 *   {% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}
 * That template silently drops a system message; Tulu 2 was trained
 * (allenai/open-instruct) with "<|system|>\n" + content + "\n", which is also the
 * system branch of open-instruct's later templates, so a system message is
 * rendered that way. */
static void render_tulu(const ur_msg *m, int n, int gen, ur_buf *out) {
    for (int i = 0; i < n; i++) {
        put(out, m[i].role == UR_ROLE_SYSTEM ? "<|system|>\n" : m[i].role == UR_ROLE_USER ? "<|user|>\n" : "<|assistant|>\n");
        put_msg(out, &m[i]);
        put(out, m[i].role == UR_ROLE_ASSISTANT ? "</s>\n" : "\n");
    }
    if (gen && n > 0) put(out, "<|assistant|>\n");
}

/* ---- chatml --------------------------------------------------------------------------------- */
/* teknium/OpenHermes-2.5-Mistral-7B tokenizer_config.json (llama.cpp's test pins it):
 *   {% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']
 *   + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}
 * No default system message (Qwen's templates add one; pass it explicitly). */
static void render_chatml(const ur_msg *m, int n, int gen, ur_buf *out) {
    for (int i = 0; i < n; i++) {
        put(out, "<|im_start|>");
        put(out, ur_role_name(m[i].role));
        put(out, "\n");
        put_msg(out, &m[i]);
        put(out, "<|im_end|>\n");
    }
    if (gen) put(out, "<|im_start|>assistant\n");
}

/* ---- llama-3 ----------------------------------------------------------------------------------- */
/* meta-llama/Meta-Llama-3-8B-Instruct tokenizer_config.json (bos "<|begin_of_text|>"):
 *   {% set loop_messages = messages %}{% for message in loop_messages %}
 *   {% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim
 *   + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}
 *   {% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}
 * (the filter binds tighter than +: only the message is trimmed). */
static void render_llama3(const ur_msg *m, int n, int gen, ur_buf *out) {
    for (int i = 0; i < n; i++) {
        if (i == 0) put(out, "<|begin_of_text|>");
        put(out, "<|start_header_id|>");
        put(out, ur_role_name(m[i].role));
        put(out, "<|end_header_id|>\n\n");
        put_msg_stripped(out, &m[i]);
        put(out, "<|eot_id|>");
    }
    if (gen) put(out, "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

/* ---- gemma ---------------------------------------------------------------------------------------- */
/* google/gemma-2-9b-it tokenizer_config.json (bos "<bos>"):
 *   {{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}
 *   {% for message in messages %}...{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}
 *   {% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim
 *   + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}
 * A system message is placed as google/gemma-3-*-it's template places it: its
 * content + "\n\n" (not trimmed) before the first turn's trimmed content. */
static void render_gemma(const ur_msg *m, int n, int gen, ur_buf *out) {
    int first;
    const ur_msg *sys = split_system(m, n, &first);
    put(out, "<bos>");
    for (int i = first; i < n; i++) {
        put(out, m[i].role == UR_ROLE_ASSISTANT ? "<start_of_turn>model\n" : "<start_of_turn>user\n");
        if (i == first && sys) {
            put_msg(out, sys);
            put(out, "\n\n");
        }
        put_msg_stripped(out, &m[i]);
        put(out, "<end_of_turn>\n");
    }
    if (gen) put(out, "<start_of_turn>model\n");
}

/* ---- the table ----------------------------------------------------------------------------------- */
static const tmpl_def TEMPLATES[] = {
    {{"llama-2", "Llama-2-chat: <s>[INST] <<SYS>>...<</SYS>> ... [/INST] (system message only if given)"},
     0, 1, {"</s>"}, render_llama2},
    {{"llama-2-default-system", "Llama-2-chat with its old default system prompt when none is given"},
     0, 1, {"</s>"}, render_llama2_sys},
    {{"mistral-instruct", "Mistral-7B-Instruct v0.1/v0.2 (current template; a system message joins the first turn)"},
     0, 1, {"</s>"}, render_mistral},
    {{"mistral-instruct-legacy", "Mistral-7B-Instruct's first template: <s>[INST] ... [/INST]answer</s> (no system)"},
     0, 0, {"</s>"}, render_mistral_legacy},
    {{"vicuna-v1.1", "Vicuna v1.1 (FastChat): SYSTEM USER: ... ASSISTANT: ...</s>"}, 1, 1, {"</s>"}, render_vicuna},
    {{"zephyr", "Zephyr-7B-beta: <|system|> / <|user|> / <|assistant|>, each turn ending in </s>"},
     1, 1, {"</s>"}, render_zephyr},
    {{"tulu", "Tulu 2: <|user|> / <|assistant|>, answers ending in </s>"}, 1, 1, {"</s>"}, render_tulu},
    {{"chatml", "ChatML (OpenHermes-2.5 etc.): <|im_start|>role ... <|im_end|>"}, 1, 1, {"<|im_end|>"}, render_chatml},
    {{"llama-3", "Llama-3-Instruct: <|start_header_id|>role<|end_header_id|> ... <|eot_id|>"},
     0, 1, {"<|eot_id|>"}, render_llama3},
    {{"gemma", "Gemma-it (2 and 3): <start_of_turn>user / model ... <end_of_turn>"}, 0, 1, {"<end_of_turn>"},
     render_gemma},
};
#define N_TEMPLATES (int)(sizeof TEMPLATES / sizeof TEMPLATES[0])

const tmpl_def *tmpl_find(const char *name) {
    for (int i = 0; i < N_TEMPLATES; i++)
        if (!strcmp(name, TEMPLATES[i].info.name)) return &TEMPLATES[i];
    return NULL;
}
const char *tmpl_name(const tmpl_def *t) { return t->info.name; }
int tmpl_has_system(const tmpl_def *t) { return t->system; }
int tmpl_add_bos(const tmpl_def *t) { return t->add_bos; }
void tmpl_render(const tmpl_def *t, const ur_msg *m, int n, int gen, ur_buf *out) { t->render(m, n, gen, out); }
const char *const *tmpl_stops(const tmpl_def *t, int *n) {
    *n = 0;
    while (*n < 2 && t->stops[*n]) (*n)++;
    return t->stops;
}
const ur_chat_info *tmpl_list(int *n) {
    static ur_chat_info list[N_TEMPLATES];
    for (int i = 0; i < N_TEMPLATES; i++) list[i] = TEMPLATES[i].info;
    *n = N_TEMPLATES;
    return list;
}

static ur_buf template_names(void) {
    ur_buf b = {0};
    for (int i = 0; i < N_TEMPLATES; i++) ur_buf_printf(&b, "%s%s", i ? ", " : "", TEMPLATES[i].info.name);
    return b;
}

ur_chat *ur_chat_template(const char *name, ur_err *err) {
    const tmpl_def *t = name ? tmpl_find(name) : NULL;
    if (!t) {
        ur_buf names = template_names();
        if (name && !strcmp(name, "auto"))
            ur_errf(err, "template 'auto' needs a model (-m MODEL) to read its chat template from");
        else
            ur_errf(err, "unknown template '%s' (known: %s, auto)", name ? name : "", names.data);
        ur_buf_free(&names);
        return NULL;
    }
    ur_chat *f = chat_new(UR_CHAT_TEMPLATE, t->info.name);
    f->tmpl = t;
    return f;
}

/* ---- auto: recognise a template ------------------------------------------------------------------- */
static int has(const char *s, const char *needle) { return s && strstr(s, needle); }

static int count(const char *s, const char *needle) {
    int c = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) c++;
    return c;
}

/* Distinctive pieces of each family's Jinja source. Templates that only look like
 * one of ours (Mistral v3 with tools, Phi-3, Qwen with a built-in default system
 * message, OLMo's eos-first variant, ...) give NULL rather than the wrong bytes. */
static const char *detect_template(const char *t) {
    if (has(t, "<|start_header_id|>")) return has(t, "Cutting Knowledge Date") ? NULL : "llama-3";
    if (has(t, "<start_of_turn>")) return "gemma";
    if (has(t, "<|im_start|>")) return has(t, "You are") ? NULL : "chatml";
    if (has(t, "<<SYS>>"))
        return has(t, "respectful and honest assistant") ? "llama-2-default-system" : "llama-2";
    if (has(t, "[INST]")) {
        if (has(t, "[AVAILABLE_TOOLS]") || has(t, "[SYSTEM_PROMPT]")) return NULL;
        if (has(t, "' [INST] '")) return "mistral-instruct";
        if (has(t, "'[INST] '") && has(t, "' [/INST]'")) return "mistral-instruct-legacy";
        return NULL;
    }
    if (has(t, "<|user|>") && has(t, "<|assistant|>")) {
        if (has(t, "<|end|>") || has(t, "{{ eos_token }}") || has(t, "{{ bos_token }}")) return NULL;
        int eos = count(t, "eos_token");
        return eos >= 3 ? "zephyr" : eos == 1 ? "tulu" : NULL;
    }
    /* Vicuna ships no template: a "USER: ... ASSISTANT:" one in a GGUF is someone's own
     * (llama.cpp's, for one, separates turns with newlines), so only the name picks vicuna. */
    return NULL;
}

/* Aligned-model names as they appear in general.name (case-insensitive). A base
 * model's name (no chat/instruct marker) matches nothing. */
static const char *detect_name(const char *name) {
    char low[256];
    size_t i = 0;
    for (; name[i] && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)name[i]);
    low[i] = 0;
    int chat = has(low, "chat") || has(low, "instruct") || has(low, "-it") || has(low, " it");
    if ((has(low, "llama-3") || has(low, "llama3") || has(low, "llama 3")) && chat) return "llama-3";
    if ((has(low, "llama-2") || has(low, "llama2") || has(low, "llama 2")) && has(low, "chat")) return "llama-2";
    if ((has(low, "mistral") || has(low, "mixtral")) && has(low, "instruct")) return "mistral-instruct";
    if (has(low, "zephyr")) return "zephyr";
    if (has(low, "tulu")) return "tulu";
    if (has(low, "vicuna")) return "vicuna-v1.1";
    if (has(low, "gemma") && chat) return "gemma";
    if (has(low, "openhermes") || has(low, "chatml")) return "chatml";
    return NULL;
}

const char *ur_chat_detect(const char *chat_template, const char *model_name) {
    const char *t = chat_template && *chat_template ? detect_template(chat_template) : NULL;
    if (!t && model_name && *model_name) t = detect_name(model_name);
    return t;
}

/* Display names of template families, by a distinctive piece of their Jinja source:
 * first the variants no built-in template renders, then the built-in names
 * (detect_template), then the broad families. Only for `urial info` and notes: a
 * model's template is always rendered from its own text. */
static const struct { const char *needle, *family; } SPECIFIC[] = {
    {"Cutting Knowledge Date", "llama-3.1"},       {"<think>", "qwen3"},
    {"You are Qwen", "qwen2.5"},                   {"<\xef\xbd\x9cUser\xef\xbd\x9c>", "deepseek"},
    {"[AVAILABLE_TOOLS]", "mistral-v3"},           {"[SYSTEM_PROMPT]", "mistral-v7"},
    {"<|end|>", "phi-3"},                          {"<|START_OF_TURN_TOKEN|>", "command-r"},
}, BROAD[] = {
    {"<|start_header_id|>", "llama-3"}, {"<|im_start|>", "chatml"}, {"<start_of_turn>", "gemma"},
    {"[INST]", "mistral"},              {"<|user|>", "zephyr-like"},
};

const char *ur_chat_family(const char *chat_template) {
    if (!chat_template || !*chat_template) return NULL;
    for (size_t i = 0; i < sizeof SPECIFIC / sizeof SPECIFIC[0]; i++)
        if (strstr(chat_template, SPECIFIC[i].needle)) return SPECIFIC[i].family;
    const char *t = detect_template(chat_template);
    for (size_t i = 0; !t && i < sizeof BROAD / sizeof BROAD[0]; i++)
        if (strstr(chat_template, BROAD[i].needle)) t = BROAD[i].family;
    return t;
}

/* The model's own template when it has one (rendered by the Jinja interpreter, as
 * Hugging Face renders it); else a built-in one chosen by general.name. */
ur_chat *ur_chat_template_auto(const ur_gguf *g, ur_err *err) {
    ur_str tmpl = {0, 0}, name = {0, 0};
    if (ur_gguf_get_str(g, "tokenizer.chat_template", &tmpl, err) < 0) return NULL;
    if (tmpl.len) return jinja_chat_from_gguf(g, &tmpl, err);
    if (ur_gguf_get_str(g, "general.name", &name, err) < 0) return NULL;
    char *nm = ur_xstrndup(name.ptr ? name.ptr : "", name.len);
    const char *pick = ur_chat_detect(NULL, nm);
    if (!pick) {
        ur_buf names = template_names();
        ur_errf(err, "%s: cannot choose a chat template: no tokenizer.chat_template, and general.name '%s' names no "
                     "known family (give --template NAME: %s)",
                g->path, nm, names.data);
        ur_buf_free(&names);
    }
    free(nm);
    return pick ? ur_chat_template(pick, err) : NULL;
}
