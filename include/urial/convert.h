/* urial — a Hugging Face checkpoint to GGUF (`urial convert`).
 *
 * HF_DIR holds config.json, tokenizer.json (+ tokenizer_config.json) and the weights as
 * model.safetensors, or as shards listed by model.safetensors.index.json. The output
 * has llama.cpp's converter's layout for the architecture (config.json's
 * "architectures": Llama/Mistral -> llama, Qwen2, Qwen3, Gemma2, Gemma3 (text), Olmo2,
 * Phi3): its tensor names, the <arch>.* keys, the tokenizer as `urial
 * convert-tokenizer` writes it, and its transformations of the weights:
 *   - llama: the rows of q_proj and k_proj permuted per head from Hugging Face's
 *     rotate_half layout (pairs (i, i + d/2)) to GGUF's interleaved pairs (2i, 2i+1);
 *   - gemma2/gemma3: every RMSNorm weight w stored as 1 + w (Hugging Face's Gemma norm
 *     multiplies by 1 + w); the output tied to the embeddings.
 * Tensors are converted one at a time while the file is written (memory: one output
 * tensor plus the mapped inputs). Matrices get `type` by the rules of `urial quantize`
 * (quantize.h; f32, f16, bf16, q8_0, q4_K_M, ...); vectors stay F32. */
#ifndef URIAL_CONVERT_H
#define URIAL_CONVERT_H

#include "urial/base.h"

typedef struct ur_hf_convert_opts {
    const char *type;  /* a file type name (quantize.h); NULL: f16 */
    const char *name;  /* general.name; NULL: the directory's base name */
    int threads;       /* 0: all cores */
} ur_hf_convert_opts;

typedef struct ur_hf_convert_stats {
    char arch[16];
    int n_tensors, n_layers;
    uint64_t bytes_out;
} ur_hf_convert_stats;

int ur_hf_convert(const char *hf_dir, const char *out, const ur_hf_convert_opts *o, ur_hf_convert_stats *st,
                  ur_err *err);

#endif
