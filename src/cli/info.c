/* urial info MODEL.gguf [--json] — what a GGUF file holds and whether urial runs it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "urial/chat.h"
#include "urial/model.h"
#include "urial/tensor.h"
#include "urial/tokenizer.h"

static const char USAGE[] =
    "usage: urial info MODEL.gguf [--json]\n"
    "Describe a GGUF file: architecture, shapes, tensor types, tokenizer, context length, parameter count.\n";

/* Tensor type histogram: counts and bytes per type, in first-seen order. */
typedef struct { int type; int count; uint64_t bytes; } type_count;

static int count_types(const ur_gguf *g, type_count *tc, int max) {
    int n = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        int j = 0;
        while (j < n && tc[j].type != g->tensors[i].type) j++;
        if (j == n && n < max) tc[n++] = (type_count){g->tensors[i].type, 0, 0};
        if (j < n) tc[j].count++, tc[j].bytes += g->tensors[i].nbytes;
    }
    return n;
}

/* A token as "ID TEXT" with control characters escaped (for the tokenizer lines). */
static void put_token(ur_buf *b, const ur_vocab *v, int32_t id) {
    size_t len;
    const char *p = ur_vocab_piece(v, id, &len);
    ur_buf_printf(b, "%d ", id);
    for (size_t i = 0; p && i < len && i < 64; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c < 0x20 || c == 0x7f) ur_buf_printf(b, "\\x%02x", c);
        else ur_buf_put(b, p + i, 1);
    }
}

/* The tokenizer's lines: kind, size, BOS/EOS rules; the pre-tokenizer; end-of-generation tokens. */
static void tokenizer_text(ur_buf *b, const ur_vocab *v) {
    ur_buf_printf(b, "tokenizer:     %s (%s), %d tokens", ur_vocab_kind_name(v), ur_vocab_model(v), ur_vocab_size(v));
    if (ur_vocab_bos(v) >= 0) {
        ur_buf_puts(b, ", bos ");
        put_token(b, v, ur_vocab_bos(v));
        ur_buf_puts(b, ur_vocab_add_bos(v) ? " (added)" : " (not added)");
    }
    if (ur_vocab_eos(v) >= 0) {
        ur_buf_puts(b, ", eos ");
        put_token(b, v, ur_vocab_eos(v));
    }
    ur_buf_puts(b, "\n");
    if (ur_vocab_pre(v)) {
        const char *pre = ur_vocab_pre(v);
        int nfc = !strcmp(pre, "qwen2"), whole = !strcmp(pre, "llama-bpe");
        ur_buf_printf(b, "pre-tokenizer: %s%s: %s\n", pre,
                      nfc ? " (NFC first)" : whole ? " (a piece that is a token is kept whole)" : "", ur_vocab_pre_regex(v));
    }
    ur_buf_puts(b, "end of gen:   ");
    int n = 0;
    for (int32_t id = 0; id < ur_vocab_size(v); id++)
        if (ur_vocab_is_eog(v, id)) {
            ur_buf_puts(b, n++ ? ", " : " ");
            put_token(b, v, id);
        }
    ur_buf_puts(b, n ? "\n" : " none\n");
}

/* What the architecture's variations are (src/model/arch.c), as text and JSON. */
static const char *norm_name(int norm) {
    return norm == (UR_NORM_PRE | UR_NORM_POST) ? "pre+post" : norm == UR_NORM_POST ? "post" : "pre";
}
static const char *qk_name(int qk) { return qk == UR_QKNORM_HEAD ? "head" : qk == UR_QKNORM_ALL ? "all" : "none"; }

/* The sliding layers as "0, 2, 4, ..." (first few) */
static void swa_list(ur_buf *b, const ur_model *m) {
    int k = 0;
    for (int l = 0; l < m->hp.n_layers; l++)
        if (m->layers[l].swa) {
            if (k == 6) {
                ur_buf_puts(b, ", ...");
                break;
            }
            ur_buf_printf(b, k++ ? ", %d" : "%d", l);
        }
}

static void arch_text(ur_buf *b, const ur_model *m) {
    const ur_hparams *hp = &m->hp;
    ur_buf_printf(b, "rope:          base %g, %d dims, %s pairs, linear scale %g%s", hp->rope_base, hp->n_rot,
                  hp->rope_neox ? "neox" : "adjacent", hp->rope_scale, m->rope_freqs ? ", rope_freqs" : "");
    if (m->rope_long)
        ur_buf_printf(b, ", LongRoPE factors (long beyond %d positions, short within)", hp->n_ctx_orig);
    if (hp->rope_attn_factor != 1.0f) ur_buf_printf(b, ", attention factor %g", hp->rope_attn_factor);
    ur_buf_puts(b, "\n");
    const int pre = hp->norm & UR_NORM_PRE, post = hp->norm & UR_NORM_POST;
    ur_buf_printf(b, "layers:        %s, %s", pre && post ? "pre- and post-norms" : post ? "post-norms only" : "pre-norms",
                  hp->act == UR_ACT_GELU ? "GeGLU (tanh GELU)" : "SwiGLU");
    if (hp->qk_norm) ur_buf_printf(b, ", q/k norms %s", hp->qk_norm == UR_QKNORM_HEAD ? "per head" : "over the whole projection");
    if (hp->embd_scale != 1.0f) ur_buf_printf(b, ", embeddings x %g", hp->embd_scale);
    ur_buf_printf(b, ", q.k x %.6g (1/sqrt(%g))%s", hp->attn_scale, 1.0 / ((double)hp->attn_scale * hp->attn_scale),
                  hp->q_prescale ? " on q first" : "");
    if (m->fused_qkv || m->fused_gate_up)
        ur_buf_printf(b, ", fused %s%s%s", m->fused_qkv ? "attn_qkv" : "", m->fused_qkv && m->fused_gate_up ? " and " : "",
                      m->fused_gate_up ? "gate-up" : "");
    ur_buf_puts(b, "\n");
    if (hp->swa_window || hp->attn_softcap || hp->final_softcap) {
        ur_buf_puts(b, "attention:    ");
        if (hp->swa_window) {
            ur_buf_printf(b, " sliding window %d on %d of %d layers (", hp->swa_window, m->n_swa_layers, hp->n_layers);
            swa_list(b, m);
            ur_buf_printf(b, "; rope base %g, scale %g)", hp->rope_base_swa, hp->rope_scale_swa);
        }
        if (hp->attn_softcap) ur_buf_printf(b, "%s scores soft-capped at %g", hp->swa_window ? "," : "", hp->attn_softcap);
        if (hp->final_softcap)
            ur_buf_printf(b, "%s logits soft-capped at %g", hp->swa_window || hp->attn_softcap ? "," : "", hp->final_softcap);
        ur_buf_puts(b, "\n");
    }
}

static void arch_json(ur_buf *b, const ur_model *m) {
    const ur_hparams *hp = &m->hp;
    ur_buf_printf(b, ",\"norm\":\"%s\",\"qk_norm\":\"%s\",\"act\":\"%s\",\"embd_scale\":%g,\"attn_scale\":%g,"
                  "\"q_prescale\":%s,\"fused_qkv\":%s,\"fused_gate_up\":%s,\"softcap\":{\"attn\":%g,\"final\":%g}",
                  norm_name(hp->norm), qk_name(hp->qk_norm), hp->act == UR_ACT_GELU ? "gelu" : "silu", hp->embd_scale,
                  hp->attn_scale, hp->q_prescale ? "true" : "false", m->fused_qkv ? "true" : "false",
                  m->fused_gate_up ? "true" : "false", hp->attn_softcap, hp->final_softcap);
    if (!hp->swa_window) {
        ur_buf_puts(b, ",\"sliding_window\":null");
        return;
    }
    ur_buf_printf(b, ",\"sliding_window\":{\"window\":%d,\"rope_base\":%g,\"rope_scale\":%g,\"layers\":[",
                  hp->swa_window, hp->rope_base_swa, hp->rope_scale_swa);
    int k = 0;
    for (int l = 0; l < hp->n_layers; l++)
        if (m->layers[l].swa) ur_buf_printf(b, k++ ? ",%d" : "%d", l);
    ur_buf_puts(b, "]}");
}

int cmd_info(int argc, char **argv) {
    int json = 0;
    const cli_opt opts[] = {OPT_FLAG("json", 0, &json, "one JSON object instead of text"), OPT_END};
    const cli_cmd cmd = {"info", USAGE, opts, NULL, 0, 2};
    int a = cli_parse(&cmd, argc, argv);
    if (a <= 0) return a < 0;
    if (a != argc - 1) return cli_fail("info: expected one MODEL.gguf argument (see urial info --help)");
    const char *path = argv[a];
    ur_err err = {{0}};
    ur_gguf *g = ur_gguf_open(path, &err);
    if (!g) return cli_fail("%s", err.msg);
    ur_err merr = {{0}};
    ur_model *m = ur_model_load(path, &merr);
    ur_vocab *v = m ? NULL : ur_vocab_load(g, NULL);
    const ur_vocab *voc = m ? m->vocab : v;
    type_count tc[32];
    int ntc = count_types(g, tc, 32);
    uint64_t params = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const ur_gguf_tensor *t = &g->tensors[i];
        params += (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    }
    ur_str arch = {"", 0}, name = {"", 0};
    ur_gguf_get_str(g, "general.architecture", &arch, NULL);
    ur_gguf_get_str(g, "general.name", &name, NULL);
    /* the chat template an aligned model records (tokenizer.chat_template), and what urial makes of it */
    ur_str tmpl = {NULL, 0};
    ur_gguf_get_str(g, "tokenizer.chat_template", &tmpl, NULL);
    char *tmpl_z = tmpl.ptr ? ur_xstrndup(tmpl.ptr, tmpl.len) : NULL;
    const char *family = tmpl_z ? ur_chat_family(tmpl_z) : NULL;
    free(tmpl_z);
    /* --template auto renders the template itself: say whether it parses */
    ur_err terr = {{0}};
    ur_chat *own = tmpl.len ? ur_chat_template_auto(g, &terr) : NULL;
    ur_chat_free(own);

    ur_buf b = {0};
    if (json) {
        ur_buf_puts(&b, "{\"file\":");
        ur_buf_json_str(&b, path, strlen(path));
        ur_buf_printf(&b, ",\"file_bytes\":%zu,\"gguf_version\":%u,\"name\":", g->size, g->version);
        ur_buf_json_str(&b, name.ptr, name.len);
        ur_buf_puts(&b, ",\"architecture\":");
        ur_buf_json_str(&b, arch.ptr, arch.len);
        ur_buf_printf(&b, ",\"parameters\":%llu,\"tensors\":%llu,\"metadata_keys\":%llu", (unsigned long long)params,
                      (unsigned long long)g->n_tensors, (unsigned long long)g->n_kv);
        if (m) {
            const ur_hparams *hp = &m->hp;
            ur_buf_printf(&b,
                          ",\"n_vocab\":%d,\"dim\":%d,\"n_layers\":%d,\"n_heads\":%d,\"n_kv_heads\":%d,"
                          "\"head_dim\":%d,\"ff\":%d,\"context_length\":%d,\"rope\":{\"base\":%g,\"dims\":%d,"
                          "\"neox\":%s,\"scale\":%g,\"freqs\":%s,\"longrope\":%s,\"attn_factor\":%g,"
                          "\"original_context\":%d},\"rms_eps\":%g,\"tied_output\":%s",
                          hp->n_vocab, hp->dim, hp->n_layers, hp->n_heads, hp->n_kv_heads, hp->head_dim, hp->ff,
                          hp->n_ctx_train, hp->rope_base, hp->n_rot, hp->rope_neox ? "true" : "false", hp->rope_scale,
                          m->rope_freqs ? "true" : "false", m->rope_long ? "true" : "false", hp->rope_attn_factor,
                          hp->n_ctx_orig, hp->rms_eps, m->tied_output ? "true" : "false");
            arch_json(&b, m);
        }
        ur_buf_puts(&b, ",\"tensor_types\":{");
        for (int i = 0; i < ntc; i++)
            ur_buf_printf(&b, "%s\"%s\":{\"count\":%d,\"bytes\":%llu}", i ? "," : "", ur_type_name(tc[i].type),
                          tc[i].count, (unsigned long long)tc[i].bytes);
        ur_buf_puts(&b, "}");
        if (voc) {
            ur_buf_printf(&b, ",\"tokenizer\":{\"model\":\"%s\",\"kind\":\"%s\",\"pre\":%s%s%s,\"tokens\":%d,"
                          "\"bos\":%d,\"add_bos\":%s,\"eos\":%d,\"eot\":%d,\"eog\":[",
                          ur_vocab_model(voc), ur_vocab_kind_name(voc), ur_vocab_pre(voc) ? "\"" : "",
                          ur_vocab_pre(voc) ? ur_vocab_pre(voc) : "null", ur_vocab_pre(voc) ? "\"" : "",
                          ur_vocab_size(voc), ur_vocab_bos(voc), ur_vocab_add_bos(voc) ? "true" : "false",
                          ur_vocab_eos(voc), ur_vocab_eot(voc));
            int k = 0;
            for (int32_t id = 0; id < ur_vocab_size(voc); id++)
                if (ur_vocab_is_eog(voc, id)) ur_buf_printf(&b, k++ ? ",%d" : "%d", id);
            ur_buf_puts(&b, "]}");
        }
        ur_buf_puts(&b, ",\"chat_template\":");
        if (tmpl.ptr) {
            ur_buf_printf(&b, "{\"bytes\":%zu,\"family\":%s%s%s", tmpl.len, family ? "\"" : "",
                          family ? family : "null", family ? "\"" : "");
            if (tmpl.len && !own) {
                ur_buf_puts(&b, ",\"error\":");
                ur_buf_json_str(&b, terr.msg, strlen(terr.msg));
            }
            ur_buf_puts(&b, "}");
        }
        else ur_buf_puts(&b, "null");
        ur_buf_printf(&b, ",\"runnable\":%s", m ? "true" : "false");
        if (!m) {
            ur_buf_puts(&b, ",\"error\":");
            ur_buf_json_str(&b, merr.msg, strlen(merr.msg));
        }
        ur_buf_puts(&b, "}\n");
    } else {
        ur_buf_printf(&b, "file:          %s (%.1f MiB, GGUF v%u, %llu tensors, %llu metadata keys)\n", path,
                      (double)g->size / (1 << 20), g->version, (unsigned long long)g->n_tensors,
                      (unsigned long long)g->n_kv);
        ur_buf_printf(&b, "name:          %.*s\n", (int)name.len, name.ptr);
        ur_buf_printf(&b, "architecture:  %.*s\n", (int)arch.len, arch.ptr);
        ur_buf_printf(&b, "parameters:    %llu (%.2fM)\n", (unsigned long long)params, (double)params / 1e6);
        if (m) {
            const ur_hparams *hp = &m->hp;
            ur_buf_printf(&b, "shape:         %d layers, dim %d, %d heads (%d kv), head dim %d, ff %d, vocab %d\n",
                          hp->n_layers, hp->dim, hp->n_heads, hp->n_kv_heads, hp->head_dim, hp->ff, hp->n_vocab);
            ur_buf_printf(&b, "context:       %d tokens (trained)\n", hp->n_ctx_train);
            arch_text(&b, m);
            ur_buf_printf(&b, "output:        %s\n", m->tied_output ? "tied to token_embd" : "output.weight");
        }
        ur_buf_puts(&b, "tensor types: ");
        for (int i = 0; i < ntc; i++)
            ur_buf_printf(&b, " %s x%d (%.1f MiB)%s", ur_type_name(tc[i].type), tc[i].count,
                          (double)tc[i].bytes / (1 << 20), i + 1 < ntc ? "," : "");
        ur_buf_puts(&b, "\n");
        if (voc) tokenizer_text(&b, voc);
        if (tmpl.ptr && tmpl.len && !own)
            ur_buf_printf(&b, "chat template: %s (tokenizer.chat_template, %zu bytes) does not render: %s\n",
                          family ? family : "unknown family", tmpl.len, terr.msg);
        else if (tmpl.ptr)
            ur_buf_printf(&b, "chat template: %s (tokenizer.chat_template, %zu bytes; --template auto renders it)\n",
                          family ? family : "unknown family", tmpl.len);
        else
            ur_buf_puts(&b, "chat template: none (a base model: answer with URIAL)\n");
        ur_buf_printf(&b, "runnable:      %s%s\n", m ? "yes" : "no: ", m ? "" : merr.msg);
    }
    fwrite(b.data, 1, b.len, stdout);
    ur_buf_free(&b);
    ur_vocab_free(v);
    ur_model_free(m);
    ur_gguf_close(g);
    return 0;
}
