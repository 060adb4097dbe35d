/* GGUF reader against hand-made corrupt files: each must fail with ONE line that
 * starts with the file name and names the specific problem. Every case is read
 * both from a file (ur_gguf_open) and from an exact-size heap buffer
 * (ur_gguf_parse), so ASan sees any read past the end. */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "urial/base.h"
#include "urial/gguf.h"
#include "urial/tensor.h"

/* ---- building files byte by byte ------------------------------------------------------ */
static void u32(ur_buf *b, uint32_t v) { ur_buf_put(b, &v, 4); }
static void u64(ur_buf *b, uint64_t v) { ur_buf_put(b, &v, 8); }
static void str(ur_buf *b, const char *s) {
    u64(b, strlen(s));
    ur_buf_put(b, s, strlen(s));
}
static void header(ur_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    ur_buf_put(b, "GGUF", 4);
    u32(b, version);
    u64(b, n_tensors);
    u64(b, n_kv);
}
static void kv_u32(ur_buf *b, const char *key, uint32_t v) {
    str(b, key);
    u32(b, UR_GGUF_U32);
    u32(b, v);
}
static void kv_str(ur_buf *b, const char *key, const char *v) {
    str(b, key);
    u32(b, UR_GGUF_STRING);
    str(b, v);
}
/* A tensor info; ne has n_dims entries. */
static void tinfo(ur_buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off) {
    str(b, name);
    u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) u64(b, ne[d]);
    u32(b, type);
    u64(b, off);
}
static void pad(ur_buf *b, size_t align) {
    while (b->len % align) ur_buf_put(b, "", 1);
}
static void zeros(ur_buf *b, size_t n) {
    for (size_t i = 0; i < n; i++) ur_buf_put(b, "", 1);
}

/* A valid file: 2 kvs and one f32 [8] tensor (32 bytes), then `extra` more. */
static void valid_prefix(ur_buf *b, uint32_t version) {
    header(b, version, 1, 2);
    kv_str(b, "general.architecture", "llama");
    kv_u32(b, "llama.block_count", 1);
    tinfo(b, "w", 1, (uint64_t[]){8}, UR_TYPE_F32, 0);
    pad(b, 32);
    zeros(b, 32);
}

/* ---- checking ----------------------------------------------------------------------------- */
static int one_line(const char *msg, const char *name) {
    size_t n = strlen(name);
    return !strncmp(msg, name, n) && msg[n] == ':' && msg[n + 1] == ' ' && !strchr(msg, '\n');
}

/* Writes b as `name` in the scratch dir; both ways of reading must fail with
 * one line starting with the name and containing `want`. */
static void expect_fail(const char *name, const ur_buf *b, const char *want) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", th_tmpdir(), name);
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    if (b->len) fwrite(b->data, 1, b->len, f);
    fclose(f);
    ur_err err = {{0}};
    ur_gguf *g = ur_gguf_open(path, &err);
    CHECKF(!g, "%s: opened", name);
    if (getenv("GGUF_SHOW_ERRORS")) fprintf(stderr, "%s\n", err.msg); /* to review the messages */
    ur_gguf_close(g);
    CHECKF(one_line(err.msg, path), "%s: message '%.500s'", name, err.msg);
    CHECKF(strstr(err.msg, want), "%s: message '%.500s' lacks '%.200s'", name, err.msg, want);
    void *copy = malloc(b->len ? b->len : 1);
    if (b->len) memcpy(copy, b->data, b->len);
    ur_err err2 = {{0}};
    g = ur_gguf_parse(copy, b->len, name, &err2);
    CHECKF(!g, "%s: parsed", name);
    ur_gguf_close(g);
    CHECKF(one_line(err2.msg, name) && !strcmp(err2.msg + strlen(name), err.msg + strlen(path)),
           "%s: parse said '%.400s', open said '%.400s'", name, err2.msg, err.msg);
    free(copy);
}

#define FAILS(name, want, ...)                                                                                        \
    do {                                                                                                              \
        ur_buf b_ = {0};                                                                                              \
        ur_buf *b = &b_;                                                                                              \
        __VA_ARGS__;                                                                                                  \
        expect_fail(name, b, want);                                                                                   \
        ur_buf_free(b);                                                                                               \
    } while (0)

/* ---- truncation ----------------------------------------------------------------------------- */
/* Every proper prefix of a small valid file fails cleanly (the file's last
 * tensor ends exactly at the end of the file, so no prefix is still valid). */
static void truncated_every_prefix(void) {
    ur_err err;
    ur_gguf_writer *w = ur_gguf_writer_new();
    ur_gguf_w_str(w, "general.architecture", "llama");
    ur_gguf_w_u32(w, "llama.block_count", 2);
    ur_gguf_w_f32(w, "eps", 1e-5f);
    ur_gguf_w_bool(w, "flag", 1);
    const char *toks[] = {"<unk>", "", "hello"};
    ur_gguf_w_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 3);
    ur_gguf_w_arr(w, "scores", UR_GGUF_F32, (float[]){1, 2, 3}, 3);
    uint8_t q8[34] = {0}, f32[32] = {0};
    REQUIRE(ur_gguf_w_tensor(w, "q", UR_TYPE_Q8_0, 1, (int64_t[]){32}, q8, 34, &err) == 0);
    REQUIRE(ur_gguf_w_tensor(w, "last", UR_TYPE_F32, 2, (int64_t[]){4, 2}, f32, 32, &err) == 0);
    char path[512];
    snprintf(path, sizeof path, "%s/prefix.gguf", th_tmpdir());
    REQUIRE(ur_gguf_write(w, path, &err) == 0);
    ur_gguf_writer_free(w);
    size_t n = 0;
    char *full = th_read_file(path, &n);
    REQUIRE(full && n > 200);
    ur_gguf *g = ur_gguf_parse(full, n, "full", &err);
    CHECKF(g, "%.500s", err.msg);
    ur_gguf_close(g);
    for (size_t len = 0; len < n; len++) {
        char *copy = malloc(len ? len : 1);
        memcpy(copy, full, len);
        err.msg[0] = 0;
        g = ur_gguf_parse(copy, len, "prefix.gguf", &err);
        CHECKF(!g, "prefix of %zu bytes parsed", len);
        ur_gguf_close(g);
        CHECKF(one_line(err.msg, "prefix.gguf"), "prefix %zu: '%.500s'", len, err.msg);
        if (getenv("GGUF_SHOW_ERRORS")) fprintf(stderr, "%zu: %s\n", len, err.msg);
        free(copy);
        /* the same through the file system */
        FILE *f = fopen(path, "wb");
        REQUIRE(f);
        fwrite(full, 1, len, f);
        fclose(f);
        g = ur_gguf_open(path, &err);
        CHECKF(!g, "file prefix of %zu bytes opened", len);
        ur_gguf_close(g);
        CHECKF(one_line(err.msg, path), "file prefix %zu: '%.500s'", len, err.msg);
        if (th_failed_now) break;
    }
    free(full);
}

static void truncated_messages(void) {
    FAILS("t-empty.gguf", "empty file (0 bytes)", (void)b);
    FAILS("t-3.gguf", "not a GGUF file", ur_buf_put(b, "GGX", 3));
    FAILS("t-6.gguf", "truncated GGUF header (6 bytes", ur_buf_put(b, "GGUF\3\0", 6));
    FAILS("t-20.gguf", "truncated GGUF header (20 bytes, need 24)", header(b, 3, 0, 0); b->len = 20);
    FAILS("t-key.gguf", "kv 1 of 1: key (20 bytes at offset 32) runs past the end of the file (40 bytes)",
          header(b, 3, 0, 1); u64(b, 20); ur_buf_put(b, "general.", 8));
    FAILS("t-val.gguf", "kv 1 of 1 ('a'): u32 (4 bytes at offset 37) runs past the end of the file (39 bytes)",
          header(b, 3, 0, 1); str(b, "a"); u32(b, UR_GGUF_U32); ur_buf_put(b, "\1\2", 2));
    FAILS("t-strarr.gguf", "kv 1 of 1 ('toks'): string 2 of 2 (9 bytes at offset 70) runs past the end of the file (73 bytes)",
          header(b, 3, 0, 1); str(b, "toks"); u32(b, UR_GGUF_ARRAY); u32(b, UR_GGUF_STRING); u64(b, 2);
          str(b, "ab"); u64(b, 9); ur_buf_put(b, "abc", 3));
    FAILS("t-strarr-len.gguf", "kv 1 of 1 ('toks'): the length of string 2 of 2 (8 bytes at offset 62)",
          header(b, 3, 0, 1); str(b, "toks"); u32(b, UR_GGUF_ARRAY); u32(b, UR_GGUF_STRING); u64(b, 2);
          str(b, "ab"); zeros(b, 6));
    FAILS("t-dim.gguf", "tensor 'w' (1 of 1): dimension (8 bytes at offset 53) runs past the end of the file (57 "
          "bytes)", header(b, 3, 1, 0); str(b, "w"); u32(b, 4); u64(b, 8); u64(b, 8); u32(b, 1));
}

/* ---- header ----------------------------------------------------------------------------------- */
static void bad_header(void) {
    FAILS("magic.gguf", "not a GGUF file (starts with 'GGML', expected 'GGUF')",
          ur_buf_put(b, "GGML", 4); zeros(b, 60));
    FAILS("magic-bin.gguf", "starts with '\\x7fELF'", ur_buf_put(b, "\177ELF", 4); zeros(b, 60));
    FAILS("v1.gguf", "GGUF version 1 is not supported", header(b, 1, 0, 0); zeros(b, 64));
    FAILS("v99.gguf", "unsupported GGUF version 99 (urial reads versions 2 and 3)", header(b, 99, 0, 0));
    FAILS("v0.gguf", "unsupported GGUF version 0", header(b, 0, 0, 0));
    FAILS("bigendian.gguf", "big-endian GGUF (version 3 byte-swapped) is not supported",
          header(b, 0x03000000u, 0, 0));
    FAILS("huge-nkv.gguf", "header claims 4611686018427387904 key/value pairs, but the 40 bytes after the header "
          "hold at most 3", header(b, 3, 0, 1ull << 62); zeros(b, 40));
    FAILS("huge-ntensors.gguf", "header claims 4611686018427387904 tensors",
          header(b, 3, 1ull << 62, 1); kv_u32(b, "a", 1); zeros(b, 64));
    FAILS("max-counts.gguf", "header claims 18446744073709551615 key/value pairs",
          header(b, 3, UINT64_MAX, UINT64_MAX));
}

/* ---- metadata ------------------------------------------------------------------------------------ */
static void bad_metadata(void) {
    FAILS("huge-key.gguf", "kv 1 of 1: key (4611686018427387904 bytes at offset 32) runs past the end",
          header(b, 3, 0, 1); u64(b, 1ull << 62); zeros(b, 16));
    FAILS("huge-str.gguf", "kv 1 of 1 ('general.name'): string value (18446744073709551615 bytes at offset 56) runs past the end",
          header(b, 3, 0, 1); str(b, "general.name"); u32(b, UR_GGUF_STRING); u64(b, UINT64_MAX); zeros(b, 16));
    FAILS("huge-arr.gguf", "kv 1 of 1 ('x'): array of 1099511627776 u32 needs 4398046511104 bytes at offset 49, "
          "but only 4 are left", header(b, 3, 0, 1); str(b, "x"); u32(b, UR_GGUF_ARRAY); u32(b, UR_GGUF_U32);
          u64(b, 1ull << 40); u32(b, 7));
    FAILS("huge-arr-overflow.gguf", "array of 4611686018427387904 f64 is larger than any file",
          header(b, 3, 0, 1); str(b, "x"); u32(b, UR_GGUF_ARRAY); u32(b, UR_GGUF_F64); u64(b, 1ull << 62);
          zeros(b, 8));
    FAILS("huge-strarr.gguf", "kv 1 of 1 ('tokenizer.ggml.tokens'): array of 4611686018427387904 strings cannot "
          "fit in the 64 bytes left in the file at offset 69", header(b, 3, 0, 1); str(b, "tokenizer.ggml.tokens"); u32(b, UR_GGUF_ARRAY);
          u32(b, UR_GGUF_STRING); u64(b, 1ull << 62); zeros(b, 64));
    FAILS("nested.gguf", "kv 1 of 1 ('x'): nested array (array of arrays) is not supported",
          header(b, 3, 0, 1); str(b, "x"); u32(b, UR_GGUF_ARRAY); u32(b, UR_GGUF_ARRAY); u64(b, 1);
          u32(b, UR_GGUF_U8); u64(b, 1); zeros(b, 8));
    FAILS("vtype.gguf", "kv 2 of 2 ('y'): unknown value type 13 (expected 0..12)",
          header(b, 3, 0, 2); kv_u32(b, "x", 1); str(b, "y"); u32(b, 13); zeros(b, 8));
    FAILS("arrtype.gguf", "kv 1 of 1 ('x'): unknown array element type 42",
          header(b, 3, 0, 1); str(b, "x"); u32(b, UR_GGUF_ARRAY); u32(b, 42); u64(b, 0); zeros(b, 8));
    FAILS("bool.gguf", "kv 1 of 1 ('flag'): bool value 2 at offset 40 (expected 0 or 1)",
          header(b, 3, 0, 1); str(b, "flag"); u32(b, UR_GGUF_BOOL); ur_buf_put(b, "\2", 1); zeros(b, 8));
    FAILS("boolarr.gguf", "kv 1 of 1 ('flags'): bool value 255 at offset",
          header(b, 3, 0, 1); str(b, "flags"); u32(b, UR_GGUF_ARRAY); u32(b, UR_GGUF_BOOL); u64(b, 3);
          ur_buf_put(b, "\1\0\377", 3); zeros(b, 8));
    FAILS("dupkey.gguf", "kv 3 of 3 ('general.name'): duplicate key (first defined as kv 1)",
          header(b, 3, 0, 3); kv_str(b, "general.name", "a"); kv_u32(b, "x", 1); kv_str(b, "general.name", "b"));
    FAILS("align0.gguf", "general.alignment is 0, expected a non-zero power of two",
          header(b, 3, 0, 1); kv_u32(b, "general.alignment", 0); zeros(b, 32));
    FAILS("align3.gguf", "general.alignment is 3, expected a non-zero power of two",
          header(b, 3, 0, 1); kv_u32(b, "general.alignment", 3); zeros(b, 32));
    FAILS("align-str.gguf", "general.alignment has type string, expected u32",
          header(b, 3, 0, 1); kv_str(b, "general.alignment", "32"); zeros(b, 32));
    FAILS("align-neg.gguf", "general.alignment is -32, expected",
          header(b, 3, 0, 1); str(b, "general.alignment"); u32(b, UR_GGUF_I32); u32(b, (uint32_t)-32);
          zeros(b, 32));
    /* a key with bytes that cannot be printed is escaped, still on one line */
    FAILS("key-esc.gguf", "kv 1 of 1 ('a\\x0ab\\x27'): unknown value type 99",
          header(b, 3, 0, 1); str(b, "a\nb'"); u32(b, 99); zeros(b, 8));
}

/* ---- tensors -------------------------------------------------------------------------------------- */
/* One tensor info after a header with one kv, then padding and `data` bytes. */
#define ONE_TENSOR(name, nd, ne, type, off, data)                                                                     \
    header(b, 3, 1, 1); kv_str(b, "general.architecture", "llama");                                                  \
    tinfo(b, name, nd, ne, type, off); pad(b, 32); zeros(b, data)

static void bad_tensors(void) {
    FAILS("rank0.gguf", "tensor 'w' (1 of 1): rank 0 (expected 1..4)",
          ONE_TENSOR("w", 0, NULL, UR_TYPE_F32, 0, 64));
    FAILS("rank5.gguf", "tensor 'w' (1 of 1): rank 5 (expected 1..4)",
          ONE_TENSOR("w", 5, ((uint64_t[]){1, 1, 1, 1, 1}), UR_TYPE_F32, 0, 64));
    FAILS("zerodim.gguf", "tensor 'blk.0.attn_q.weight' (1 of 1): dimension 1 is 0 (expected 1..2^63-1)",
          ONE_TENSOR("blk.0.attn_q.weight", 2, ((uint64_t[]){32, 0}), UR_TYPE_F32, 0, 64));
    FAILS("negdim.gguf", "dimension 0 is 9223372036854775808",
          ONE_TENSOR("w", 1, ((uint64_t[]){1ull << 63}), UR_TYPE_F32, 0, 64));
    FAILS("overflow.gguf", "tensor 'w' (1 of 1): shape [4294967296, 4294967296, 4] has more than 2^63 elements",
          ONE_TENSOR("w", 3, ((uint64_t[]){1ull << 32, 1ull << 32, 4}), UR_TYPE_F32, 0, 64));
    FAILS("overflow2.gguf", "has more than 2^63 elements",
          ONE_TENSOR("w", 2, ((uint64_t[]){1ull << 62, 2}), UR_TYPE_F32, 0, 64));
    FAILS("type99.gguf", "tensor 'w' (1 of 1): unknown tensor type 99",
          ONE_TENSOR("w", 1, ((uint64_t[]){32}), 99, 0, 64));
    FAILS("type3.gguf", "unknown tensor type 3", ONE_TENSOR("w", 1, ((uint64_t[]){32}), 3, 0, 64));
    FAILS("q8k.gguf", "tensor 'w' (1 of 1): type q8_K (15) is not allowed in a model file",
          ONE_TENSOR("w", 1, ((uint64_t[]){256}), UR_TYPE_Q8_K, 0, 320));
    FAILS("block.gguf", "tensor 'w' (1 of 1): shape [100, 2]: ne[0] = 100 is not a multiple of the q4_K block size "
          "256", ONE_TENSOR("w", 2, ((uint64_t[]){100, 2}), UR_TYPE_Q4_K, 0, 512));
    FAILS("unaligned.gguf", "tensor 'w' (1 of 1): data offset 7 is not a multiple of the alignment 32",
          ONE_TENSOR("w", 1, ((uint64_t[]){8}), UR_TYPE_F32, 7, 64));
    FAILS("offset-past.gguf", "tensor 'w' (1 of 1): data offset 4096 (byte 4224) is past the end of the file "
          "(160 bytes)", ONE_TENSOR("w", 1, ((uint64_t[]){8}), UR_TYPE_F32, 4096, 32));
    FAILS("offset-huge.gguf", "data offset 18446744073709551584 is past the end of the file (160 bytes)",
          ONE_TENSOR("w", 1, ((uint64_t[]){8}), UR_TYPE_F32, UINT64_MAX - 31, 32));
    FAILS("data-past.gguf", "tensor 'w' (1 of 1): data [128, 1152) runs past the end of the file (160 bytes)",
          ONE_TENSOR("w", 2, ((uint64_t[]){16, 16}), UR_TYPE_F32, 0, 32));
    FAILS("data-past-2.gguf", "tensor 'b' (2 of 2): data [128, 160) runs past the end of the file (136 bytes)",
          header(b, 3, 2, 0); tinfo(b, "a", 1, (uint64_t[]){8}, UR_TYPE_F32, 0);
          tinfo(b, "b", 1, (uint64_t[]){8}, UR_TYPE_F32, 32); pad(b, 32); zeros(b, 32 + 8));
    FAILS("data-section.gguf", "the data section would start at byte 128 (header end 102 padded to 32), past the end "
          "of the file (102 bytes)", header(b, 3, 1, 1); kv_str(b, "general.architecture", "llama");
          tinfo(b, "w", 1, (uint64_t[]){8}, UR_TYPE_F32, 0));
    FAILS("data-section-align.gguf", "the data section would start at byte 4096 (header end 90 padded to 4096)",
          header(b, 3, 1, 1); kv_u32(b, "general.alignment", 4096); tinfo(b, "w", 1, (uint64_t[]){8}, UR_TYPE_F32, 0);
          zeros(b, 200));
    FAILS("duptensor.gguf", "tensor 'blk.0.ffn_up.weight' (3 of 3): duplicate tensor name (first defined as tensor 1)",
          header(b, 3, 3, 0); tinfo(b, "blk.0.ffn_up.weight", 1, (uint64_t[]){8}, UR_TYPE_F32, 0);
          tinfo(b, "x", 1, (uint64_t[]){8}, UR_TYPE_F32, 32);
          tinfo(b, "blk.0.ffn_up.weight", 1, (uint64_t[]){8}, UR_TYPE_F32, 64); pad(b, 32); zeros(b, 96));
    FAILS("huge-name.gguf", "tensor 1 of 1: name (4611686018427387904 bytes at offset 32) runs past",
          header(b, 3, 1, 0); u64(b, 1ull << 62); zeros(b, 64));
}

/* A valid v2 file reads; the same bytes with a version the reader refuses don't. */
static void valid_v2_and_v3(void) {
    ur_err err;
    for (uint32_t v = 2; v <= 3; v++) {
        ur_buf b = {0};
        valid_prefix(&b, v);
        ur_gguf *g = ur_gguf_parse(b.data, b.len, "ok.gguf", &err);
        CHECKF(g, "v%u: %.500s", v, err.msg);
        if (g) CHECK(g->version == v && g->n_tensors == 1 && g->tensors[0].nbytes == 32 && g->data_offset == 160);
        ur_gguf_close(g);
        ur_buf_free(&b);
    }
}

/* ---- the file system ------------------------------------------------------------------------------- */
static void not_files(void) {
    ur_err err;
    ur_gguf *g = ur_gguf_open(th_tmpdir(), &err);
    CHECK(!g && one_line(err.msg, th_tmpdir()) && strstr(err.msg, "is a directory"));
    char missing[512];
    snprintf(missing, sizeof missing, "%s/no-such-model.gguf", th_tmpdir());
    g = ur_gguf_open(missing, &err);
    CHECK(!g && one_line(err.msg, missing) && strstr(err.msg, "cannot open: No such file or directory"));
    g = ur_gguf_open("/dev/null", &err);
    CHECK(!g && one_line(err.msg, "/dev/null") && strstr(err.msg, "not a regular file"));
    if (geteuid() != 0) { /* root reads anything */
        char locked[512];
        snprintf(locked, sizeof locked, "%s/locked.gguf", th_tmpdir());
        FILE *f = fopen(locked, "wb");
        REQUIRE(f);
        fputs("GGUF", f);
        fclose(f);
        chmod(locked, 0);
        g = ur_gguf_open(locked, &err);
        CHECK(!g && one_line(err.msg, locked) && strstr(err.msg, "cannot open: Permission denied"));
    }
}

int main(void) {
    th_suite = "gguf_corrupt";
    RUN(valid_v2_and_v3);
    RUN(truncated_every_prefix);
    RUN(truncated_messages);
    RUN(bad_header);
    RUN(bad_metadata);
    RUN(bad_tensors);
    RUN(not_files);
    TEST_MAIN_END();
}
