/* urial — the architecture table (arch.c): what distinguishes llama, qwen2, qwen3,
 * gemma2, gemma3, olmo2 and phi3, as data. The loader (load.c) fills ur_hparams
 * from a row of it plus the file's metadata; the forward pass reads only
 * ur_hparams and the per-layer flags. Not a public header. */
#ifndef URIAL_MODEL_ARCH_H
#define URIAL_MODEL_ARCH_H

#include "urial/model.h"

/* How the output matrix is found. */
enum { UR_OUT_OPTIONAL = 0, /* output.weight, or token_embd when absent (tied) */
       UR_OUT_TIED = 1,     /* always token_embd (gemma2: an output.weight would be an unused tensor) */
       UR_OUT_REQUIRED = 2 };

typedef struct ur_arch_info {
    const char *name;     /* general.architecture */
    int rope_neox;        /* rope pairs (i, i + n_rot/2) rather than (2i, 2i+1) */
    float rms_eps;        /* when attention.layer_norm_rms_epsilon is absent */
    int norm;             /* UR_NORM_* bits */
    int qk_norm;          /* UR_QKNORM_* */
    int act;              /* UR_ACT_* */
    int embd_scale;       /* 1: embeddings times sqrt(dim) */
    int q_prescale;       /* 1: q scaled before q.k (llama.cpp scales Qcur for these) */
    int gemma_scale_layers; /* with this many layers (Gemma's 27B) the query scale is
                             * 1/sqrt(dim/n_heads) instead of 1/sqrt(head_dim); 0: never */
    int swa_period;       /* layers il % period < period - 1 slide (gemma2: 2, gemma3: 6, olmo2: 4);
                           * attention.sliding_window_pattern overrides; 0: no sliding window */
    int swa_default;      /* window when attention.sliding_window is absent (gemma2: 4096); 0: none */
    int swa_ignored;      /* phi3: llama.cpp ignores the file's window (so do we) */
    float rope_base_swa;  /* sliding layers' rope base when rope.freq_base_swa is absent; 0: the global base */
    int rope_scale_swa;   /* 1: sliding layers keep the global linear rope scale; 0: they use none */
    float attn_softcap;   /* default attn_logit_softcapping (gemma2: 50); 0: never */
    float final_softcap;  /* default final_logit_softcapping (gemma2: 30); 0: only from the key */
    int read_final_softcap; /* 1: final_logit_softcapping is read from the metadata */
    int output;           /* UR_OUT_* */
    int fused;            /* 1: attn_qkv and a 2*ff ffn_up may replace q/k/v and gate/up */
    int longrope;         /* 1: rope_factors_long / rope_factors_short */
} ur_arch_info;

const ur_arch_info *ur_arch_info_get(int arch);
/* The enum ur_arch value for a general.architecture string, or -1. */
int ur_arch_lookup(const char *name);
/* Fill m->hp from the metadata and allocate m->layers with their swa flags. */
int ur_arch_load_hparams(ur_model *m, ur_err *err);

/* The <arch>.* hyperparameter keys llama.cpp reads, from p's shape (synth.c; urial
 * convert fills p from config.json): hd the head size, swa the sliding window (0: none). */
#include "urial/gguf.h"
void ur_arch_put_hparams(ur_gguf_writer *w, const ur_synth_params *p, int arch, int hd, int swa);

#endif
