/* GGUF: writer -> reader round trips, typed getters, writer misuse, the Llama-2
 * vocab fixture. Corrupt inputs are in test_gguf_corrupt.c. */
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "urial/gguf.h"
#include "urial/tensor.h"

static char *tmp_path(const char *name) {
    static char p[8][512];
    static int k;
    char *s = p[k++ % 8];
    snprintf(s, sizeof p[0], "%s/%s", th_tmpdir(), name);
    return s;
}

static int str_eq(ur_str s, const char *c) { return s.len == strlen(c) && !memcmp(s.ptr, c, s.len); }

/* A kv built by hand, so ur_gguf_w_copy_kv can write the scalar types the
 * writer has no setter for (u8, i8, u16, i16, i64, f64). */
static void w_scalar(ur_gguf_writer *w, const char *key, int type, const void *v) {
    ur_gguf_kv kv = {.key = {key, strlen(key)}, .type = type, .data = v};
    ur_gguf_w_copy_kv(w, &kv);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint8_t rnd8(void) {
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (uint8_t)(rng_state >> 24);
}

/* ---- the round trip ------------------------------------------------------------ */
static const int WEIGHT_TYPES[] = {UR_TYPE_F32,  UR_TYPE_F16,  UR_TYPE_BF16, UR_TYPE_Q4_0,
                                   UR_TYPE_Q8_0, UR_TYPE_Q4_K, UR_TYPE_Q5_K, UR_TYPE_Q6_K};
#define N_WT 8
#define N_RT (N_WT * 4)

typedef struct {
    char name[64];
    int type, n_dims;
    int64_t ne[4];
    uint8_t *data;
    uint64_t nbytes;
} rt_tensor;

static const uint8_t u8v = 200;
static const int8_t i8v = -100;
static const uint16_t u16v = 60000;
static const int16_t i16v = -30000;
static const int64_t i64v = -1234567890123456789ll;
static const double f64v = 3.141592653589793;
static const uint8_t arr_u8[] = {0, 1, 255};
static const int8_t arr_i8[] = {-128, 0, 127};
static const uint16_t arr_u16[] = {0, 65535};
static const int16_t arr_i16[] = {-32768, 32767};
static const uint32_t arr_u32[] = {0, 4000000000u, 7};
static const int32_t arr_i32[] = {-2147483647 - 1, 2147483647};
static const float arr_f32[] = {1.5f, -0.0f, 1e30f};
static const uint8_t arr_bool[] = {1, 0, 1};
static const uint64_t arr_u64[] = {UINT64_MAX, 0};
static const int64_t arr_i64[] = {INT64_MIN, INT64_MAX};
static const double arr_f64[] = {1e300, -2.5};
static const struct { int type; const void *p; uint64_t n; } ARRS[] = {
    {UR_GGUF_U8, arr_u8, 3},   {UR_GGUF_I8, arr_i8, 3},   {UR_GGUF_U16, arr_u16, 2},   {UR_GGUF_I16, arr_i16, 2},
    {UR_GGUF_U32, arr_u32, 3}, {UR_GGUF_I32, arr_i32, 2}, {UR_GGUF_F32, arr_f32, 3},   {UR_GGUF_BOOL, arr_bool, 3},
    {UR_GGUF_U64, arr_u64, 2}, {UR_GGUF_I64, arr_i64, 2}, {UR_GGUF_F64, arr_f64, 2},
};
#define N_ARRS (sizeof ARRS / sizeof ARRS[0])
static const char *const STRS[] = {"", "hello", "with\0nul", "\xe2\x96\x81the"};
static const size_t STR_LENS[] = {0, 5, 8, 6};

/* Fills w with every value type and 32 tensors (8 types x rank 1..4). */
static void fill_writer(ur_gguf_writer *w, rt_tensor *ts, uint32_t align) {
    ur_err err;
    ur_gguf_w_str(w, "general.architecture", "test");
    if (align) ur_gguf_w_u32(w, "general.alignment", align);
    w_scalar(w, "t.u8", UR_GGUF_U8, &u8v);
    w_scalar(w, "t.i8", UR_GGUF_I8, &i8v);
    w_scalar(w, "t.u16", UR_GGUF_U16, &u16v);
    w_scalar(w, "t.i16", UR_GGUF_I16, &i16v);
    ur_gguf_w_u32(w, "t.u32", 4000000000u);
    ur_gguf_w_i32(w, "t.i32", -5);
    ur_gguf_w_f32(w, "t.f32", 0.25f);
    ur_gguf_w_bool(w, "t.bool", 7); /* any non-zero is written as 1 */
    ur_gguf_w_str(w, "t.str", "a string");
    ur_gguf_w_u64(w, "t.u64", UINT64_MAX);
    w_scalar(w, "t.i64", UR_GGUF_I64, &i64v);
    w_scalar(w, "t.f64", UR_GGUF_F64, &f64v);
    ur_gguf_w_str(w, "t.empty_str", "");
    ur_gguf_w_str_n(w, "t.nul_str", "a\0b", 3);
    for (size_t i = 0; i < N_ARRS; i++) {
        char k[64];
        snprintf(k, sizeof k, "t.arr.%s", ur_gguf_vtype_name(ARRS[i].type));
        ur_gguf_w_arr(w, k, ARRS[i].type, ARRS[i].p, ARRS[i].n);
        snprintf(k, sizeof k, "t.arr0.%s", ur_gguf_vtype_name(ARRS[i].type));
        ur_gguf_w_arr(w, k, ARRS[i].type, NULL, 0);
    }
    ur_gguf_w_arr_str(w, "t.arr.string", STRS, STR_LENS, 4);
    ur_gguf_w_arr_str(w, "t.arr0.string", NULL, NULL, 0);
    const char *plain[] = {"x", "yz"};
    ur_gguf_w_arr_str(w, "t.arr.cstrings", plain, NULL, 2);
    for (int i = 0; i < N_RT; i++) {
        rt_tensor *t = &ts[i];
        t->type = WEIGHT_TYPES[i % N_WT];
        t->n_dims = 1 + i / N_WT;
        int64_t dims[4] = {ur_type_block(t->type) * (1 + i % 3), 3, 2, 2};
        uint64_t rows = 1;
        for (int d = 0; d < 4; d++) {
            t->ne[d] = d < t->n_dims ? dims[d] : 1;
            if (d) rows *= (uint64_t)t->ne[d];
        }
        snprintf(t->name, sizeof t->name, "blk.%d.%s.r%d", i, ur_type_name(t->type), t->n_dims);
        t->nbytes = ur_row_size(t->type, t->ne[0]) * rows;
        t->data = malloc(t->nbytes);
        for (uint64_t b = 0; b < t->nbytes; b++) t->data[b] = rnd8();
        int rc = ur_gguf_w_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes, &err);
        CHECKF(rc == 0, "%.500s", err.msg);
    }
}

static int kv_is(const ur_gguf *g, const char *key, int type, const void *v, size_t n) {
    const ur_gguf_kv *kv = ur_gguf_find(g, key);
    return kv && kv->type == type && !memcmp(kv->data, v, n);
}

static void check_read_back(const ur_gguf *g, const rt_tensor *ts, uint64_t align) {
    ur_str s;
    CHECK(g->version == 3);
    CHECK(g->alignment == align);
    CHECK(g->data_offset % align == 0);
    CHECK(g->n_tensors == N_RT);
    /* keys come back in insertion order */
    CHECK(str_eq(g->kv[0].key, "general.architecture"));
    CHECK(kv_is(g, "t.u8", UR_GGUF_U8, &u8v, 1));
    CHECK(kv_is(g, "t.i8", UR_GGUF_I8, &i8v, 1));
    CHECK(kv_is(g, "t.u16", UR_GGUF_U16, &u16v, 2));
    CHECK(kv_is(g, "t.i16", UR_GGUF_I16, &i16v, 2));
    uint32_t u32 = 4000000000u;
    int32_t i32 = -5;
    float f32 = 0.25f;
    uint8_t one = 1;
    uint64_t u64 = UINT64_MAX;
    CHECK(kv_is(g, "t.u32", UR_GGUF_U32, &u32, 4));
    CHECK(kv_is(g, "t.i32", UR_GGUF_I32, &i32, 4));
    CHECK(kv_is(g, "t.f32", UR_GGUF_F32, &f32, 4));
    CHECK(kv_is(g, "t.bool", UR_GGUF_BOOL, &one, 1));
    CHECK(kv_is(g, "t.u64", UR_GGUF_U64, &u64, 8));
    CHECK(kv_is(g, "t.i64", UR_GGUF_I64, &i64v, 8));
    CHECK(kv_is(g, "t.f64", UR_GGUF_F64, &f64v, 8));
    CHECK(ur_gguf_get_str(g, "t.str", &s, NULL) == 0 && str_eq(s, "a string"));
    CHECK(ur_gguf_get_str(g, "t.empty_str", &s, NULL) == 0 && s.len == 0);
    CHECK(ur_gguf_get_str(g, "t.nul_str", &s, NULL) == 0 && s.len == 3 && !memcmp(s.ptr, "a\0b", 3));
    for (size_t i = 0; i < N_ARRS; i++) {
        char k[64];
        const ur_gguf_kv *kv = NULL;
        int sz = ARRS[i].type == UR_GGUF_BOOL || ARRS[i].type <= UR_GGUF_I8 ? 1
               : ARRS[i].type <= UR_GGUF_I16                                 ? 2
               : ARRS[i].type <= UR_GGUF_F32                                 ? 4 : 8;
        snprintf(k, sizeof k, "t.arr.%s", ur_gguf_vtype_name(ARRS[i].type));
        CHECKF(ur_gguf_get_arr(g, k, ARRS[i].type, &kv, NULL) == 0 && kv->arr_n == ARRS[i].n &&
                   !memcmp(kv->data, ARRS[i].p, ARRS[i].n * (uint64_t)sz), "%s", k);
        snprintf(k, sizeof k, "t.arr0.%s", ur_gguf_vtype_name(ARRS[i].type));
        CHECKF(ur_gguf_get_arr(g, k, ARRS[i].type, &kv, NULL) == 0 && kv->arr_n == 0, "%s", k);
    }
    const ur_gguf_kv *sa = NULL;
    REQUIRE(ur_gguf_get_arr(g, "t.arr.string", UR_GGUF_STRING, &sa, NULL) == 0 && sa->arr_n == 4);
    for (int i = 0; i < 4; i++)
        CHECKF(sa->strs[i].len == STR_LENS[i] && !memcmp(sa->strs[i].ptr, STRS[i], STR_LENS[i]), "string %d", i);
    REQUIRE(ur_gguf_get_arr(g, "t.arr0.string", UR_GGUF_STRING, &sa, NULL) == 0 && sa->arr_n == 0);
    REQUIRE(ur_gguf_get_arr(g, "t.arr.cstrings", UR_GGUF_STRING, &sa, NULL) == 0 && sa->arr_n == 2);
    CHECK(str_eq(sa->strs[0], "x") && str_eq(sa->strs[1], "yz"));
    for (int i = 0; i < N_RT; i++) {
        const ur_gguf_tensor *t = ur_gguf_find_tensor(g, ts[i].name);
        REQUIRE(t);
        CHECK(t == &g->tensors[i]);
        CHECKF(t->type == ts[i].type && t->n_dims == ts[i].n_dims && t->nbytes == ts[i].nbytes, "%s", ts[i].name);
        CHECKF(!memcmp(t->ne, ts[i].ne, sizeof t->ne), "%s", ts[i].name);
        CHECKF(!memcmp(t->data, ts[i].data, t->nbytes), "%s data", ts[i].name);
        CHECK(t->offset % align == 0);
        CHECK(((const uint8_t *)t->data - g->base) % (int64_t)align == 0);
    }
    CHECK(ur_gguf_find(g, "t.missing") == NULL);
    CHECK(ur_gguf_find_tensor(g, "missing") == NULL);
}

static void roundtrip_with(uint32_t align) {
    rt_tensor ts[N_RT];
    memset(ts, 0, sizeof ts);
    ur_gguf_writer *w = ur_gguf_writer_new();
    fill_writer(w, ts, align);
    ur_err err;
    char name[64];
    snprintf(name, sizeof name, "rt-%u.gguf", align);
    const char *path = tmp_path(name);
    int rc = ur_gguf_write(w, path, &err);
    ur_gguf_writer_free(w);
    CHECKF(rc == 0, "%.500s", err.msg);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0); /* renamed away */
    ur_gguf *g = rc ? NULL : ur_gguf_open(path, &err);
    CHECKF(g, "%.500s", err.msg);
    if (g) check_read_back(g, ts, align ? align : 32);

    /* Copying every kv and tensor of the file gives the same bytes again. */
    if (g) {
        ur_gguf_writer *w2 = ur_gguf_writer_new();
        for (uint64_t i = 0; i < g->n_kv; i++) ur_gguf_w_copy_kv(w2, &g->kv[i]);
        for (uint64_t i = 0; i < g->n_tensors; i++) {
            const ur_gguf_tensor *t = &g->tensors[i];
            char nm[64];
            snprintf(nm, sizeof nm, "%.*s", (int)t->name.len, t->name.ptr);
            CHECKF(ur_gguf_w_tensor(w2, nm, t->type, t->n_dims, t->ne, t->data, t->nbytes, &err) == 0, "%.500s",
                   err.msg);
        }
        const char *path2 = tmp_path("rt-copy.gguf");
        CHECKF(ur_gguf_write(w2, path2, &err) == 0, "%.500s", err.msg);
        ur_gguf_writer_free(w2);
        size_t n1 = 0, n2 = 0;
        char *b1 = th_read_file(path, &n1), *b2 = th_read_file(path2, &n2);
        CHECK(b1 && b2 && n1 == n2 && !memcmp(b1, b2, n1));
        /* the same bytes through ur_gguf_parse */
        ur_gguf *g2 = b1 ? ur_gguf_parse(b1, n1, "buf", &err) : NULL;
        CHECKF(g2, "%.500s", err.msg);
        if (g2) check_read_back(g2, ts, align ? align : 32);
        ur_gguf_close(g2);
        free(b1);
        free(b2);
    }
    ur_gguf_close(g);
    for (int i = 0; i < N_RT; i++) free(ts[i].data);
}

static void roundtrip_default_alignment(void) { roundtrip_with(0); }
static void roundtrip_alignment_64(void) { roundtrip_with(64); }
static void roundtrip_alignment_1(void) { roundtrip_with(1); }

/* A file without tensors and a file with nothing at all. */
static void roundtrip_empty(void) {
    ur_err err;
    ur_gguf_writer *w = ur_gguf_writer_new();
    const char *path = tmp_path("empty.gguf");
    REQUIRE(ur_gguf_write(w, path, &err) == 0);
    ur_gguf_writer_free(w);
    ur_gguf *g = ur_gguf_open(path, &err);
    CHECKF(g, "%.500s", err.msg);
    if (g) CHECK(g->n_kv == 0 && g->n_tensors == 0 && g->size == 32 && g->data_offset == 32);
    if (g) CHECK(ur_gguf_find(g, "x") == NULL && ur_gguf_find_tensor(g, "x") == NULL);
    ur_gguf_close(g);
    /* without the padding after the header (as some vocab-only files are) */
    static const uint8_t bare[24] = {'G', 'G', 'U', 'F', 2};
    g = ur_gguf_parse(bare, sizeof bare, "bare", &err);
    CHECKF(g, "%.500s", err.msg);
    if (g) CHECK(g->version == 2);
    ur_gguf_close(g);
}

/* Setting a key again replaces its value in place. */
static void writer_replaces_keys(void) {
    ur_err err;
    ur_gguf_writer *w = ur_gguf_writer_new();
    ur_gguf_w_u32(w, "a", 1);
    ur_gguf_w_str(w, "b", "x");
    ur_gguf_w_f32(w, "a", 2.0f);
    const char *path = tmp_path("replace.gguf");
    REQUIRE(ur_gguf_write(w, path, &err) == 0);
    ur_gguf_writer_free(w);
    ur_gguf *g = ur_gguf_open(path, &err);
    REQUIRE(g);
    float f = 0;
    CHECK(g->n_kv == 2 && str_eq(g->kv[0].key, "a") && g->kv[0].type == UR_GGUF_F32);
    CHECK(ur_gguf_get_f32(g, "a", &f, NULL) == 0 && f == 2.0f);
    ur_gguf_close(g);
}

/* ---- typed getters ---------------------------------------------------------------- */
static void getters(void) {
    ur_err err;
    ur_gguf_writer *w = ur_gguf_writer_new();
    int8_t neg = -3;
    uint8_t small = 9;
    double d = 0.5;
    w_scalar(w, "neg", UR_GGUF_I8, &neg);
    w_scalar(w, "small", UR_GGUF_U8, &small);
    w_scalar(w, "dbl", UR_GGUF_F64, &d);
    ur_gguf_w_u64(w, "big", (uint64_t)1 << 40);
    ur_gguf_w_u64(w, "huge", UINT64_MAX);
    ur_gguf_w_bool(w, "flag", 0);
    ur_gguf_w_str(w, "name", "llama");
    ur_gguf_w_f32(w, "eps", 1e-5f);
    ur_gguf_w_arr(w, "ints", UR_GGUF_I32, (int32_t[]){1, 2}, 2);
    const char *path = tmp_path("getters.gguf");
    REQUIRE(ur_gguf_write(w, path, &err) == 0);
    ur_gguf_writer_free(w);
    ur_gguf *g = ur_gguf_open(path, &err);
    REQUIRE(g);
    uint32_t u = 77;
    int64_t i = 0;
    float f = 0;
    int b = 5;
    ur_str s;
    const ur_gguf_kv *kv = NULL;
    CHECK(ur_gguf_get_u32(g, "small", &u, &err) == 0 && u == 9);
    CHECK(ur_gguf_get_i64(g, "neg", &i, &err) == 0 && i == -3);
    CHECK(ur_gguf_get_i64(g, "big", &i, &err) == 0 && i == (int64_t)1 << 40);
    CHECK(ur_gguf_get_f32(g, "dbl", &f, &err) == 0 && f == 0.5f);
    CHECK(ur_gguf_get_f32(g, "eps", &f, &err) == 0 && f == 1e-5f);
    CHECK(ur_gguf_get_bool(g, "flag", &b, &err) == 0 && b == 0);
    CHECK(ur_gguf_get_str(g, "name", &s, &err) == 0 && str_eq(s, "llama"));
    CHECK(ur_gguf_get_arr(g, "ints", UR_GGUF_I32, &kv, &err) == 0 && kv->arr_n == 2);
    /* absent: 1, out untouched */
    u = 77;
    CHECK(ur_gguf_get_u32(g, "nope", &u, &err) == 1 && u == 77);
    CHECK(ur_gguf_get_str(g, "nope", &s, &err) == 1);
    /* out of range and wrong type: -1 with one line naming file, key and types */
    CHECK(ur_gguf_get_u32(g, "neg", &u, &err) == -1 && strstr(err.msg, "'neg' = -3 does not fit in u32"));
    CHECK(ur_gguf_get_u32(g, "big", &u, &err) == -1 && strstr(err.msg, "does not fit in u32"));
    CHECK(ur_gguf_get_i64(g, "huge", &i, &err) == -1 && strstr(err.msg, "18446744073709551615 does not fit"));
    CHECK(ur_gguf_get_u32(g, "name", &u, &err) == -1 && strstr(err.msg, "key 'name' has type string, expected u32"));
    CHECK(!strncmp(err.msg, path, strlen(path)));
    CHECK(ur_gguf_get_f32(g, "small", &f, &err) == -1 && strstr(err.msg, "has type u8, expected f32"));
    CHECK(ur_gguf_get_bool(g, "small", &b, &err) == -1 && strstr(err.msg, "expected bool"));
    CHECK(ur_gguf_get_str(g, "ints", &s, &err) == -1 && strstr(err.msg, "has type array of i32, expected string"));
    CHECK(ur_gguf_get_arr(g, "ints", UR_GGUF_F32, &kv, &err) == -1 &&
          strstr(err.msg, "array of i32, expected array of f32"));
    CHECK(ur_gguf_get_arr(g, "eps", UR_GGUF_F32, &kv, &err) == -1 && strstr(err.msg, "type f32, expected array"));
    CHECK(ur_gguf_get_u32(g, "flag", &u, NULL) == -1); /* bool is not an integer; err may be NULL */
    ur_gguf_close(g);
}

/* ---- writer misuse ------------------------------------------------------------------- */
static void writer_rejects(void) {
    ur_err err;
    uint8_t buf[1024] = {0};
    ur_gguf_writer *w = ur_gguf_writer_new();
    CHECK(ur_gguf_w_tensor(w, "a", UR_TYPE_Q8_K, 1, (int64_t[]){256}, buf, 292, &err) == -1 &&
          strstr(err.msg, "q8_K (15) cannot be written"));
    CHECK(ur_gguf_w_tensor(w, "a", 99, 1, (int64_t[]){4}, buf, 16, &err) == -1 && strstr(err.msg, "unknown (99)"));
    CHECK(ur_gguf_w_tensor(w, "a", UR_TYPE_F32, 0, (int64_t[]){4}, buf, 16, &err) == -1 &&
          strstr(err.msg, "rank 0"));
    CHECK(ur_gguf_w_tensor(w, "a", UR_TYPE_F32, 5, (int64_t[]){1, 1, 1, 1, 1}, buf, 4, &err) == -1 &&
          strstr(err.msg, "rank 5"));
    CHECK(ur_gguf_w_tensor(w, "a", UR_TYPE_F32, 2, (int64_t[]){4, 0}, buf, 0, &err) == -1 &&
          strstr(err.msg, "dimension 1 is 0"));
    CHECK(ur_gguf_w_tensor(w, "a", UR_TYPE_F32, 3, (int64_t[]){1ll << 32, 1ll << 32, 4}, buf, 4, &err) == -1 &&
          strstr(err.msg, "more than 2^63 elements"));
    CHECK(ur_gguf_w_tensor(w, "a", UR_TYPE_Q4_0, 1, (int64_t[]){48}, buf, 18, &err) == -1 &&
          strstr(err.msg, "ne[0] = 48 is not a multiple of the q4_0 block size 32"));
    CHECK(ur_gguf_w_tensor(w, "a", UR_TYPE_Q8_0, 2, (int64_t[]){64, 2}, buf, 100, &err) == -1 &&
          strstr(err.msg, "100 bytes given, but 64 x 2 rows of q8_0 need 136"));
    char long_name[80];
    memset(long_name, 'n', 64);
    long_name[64] = 0;
    CHECK(ur_gguf_w_tensor(w, long_name, UR_TYPE_F32, 1, (int64_t[]){1}, buf, 4, &err) == -1 &&
          strstr(err.msg, "name must be 1..63 bytes, not 64"));
    CHECK(ur_gguf_w_tensor(w, "", UR_TYPE_F32, 1, (int64_t[]){1}, buf, 4, &err) == -1);
    CHECK(ur_gguf_w_tensor(w, "ok", UR_TYPE_F32, 1, (int64_t[]){1}, buf, 4, &err) == 0);
    CHECK(ur_gguf_w_tensor(w, "ok", UR_TYPE_F32, 1, (int64_t[]){1}, buf, 4, &err) == -1 &&
          strstr(err.msg, "tensor 'ok': added twice"));
    /* bad alignment, string elements through ur_gguf_w_arr, empty keys: reported by write */
    const char *path = tmp_path("rejected.gguf");
    ur_gguf_w_u32(w, "general.alignment", 48);
    CHECK(ur_gguf_write(w, path, &err) == -1 && strstr(err.msg, "general.alignment is 48, expected a non-zero"));
    ur_gguf_w_str(w, "general.alignment", "32");
    CHECK(ur_gguf_write(w, path, &err) == -1 && strstr(err.msg, "general.alignment has type string, expected u32"));
    ur_gguf_w_u32(w, "general.alignment", 16);
    CHECK(ur_gguf_write(w, path, &err) == 0);
    ur_gguf_w_arr(w, "strs", UR_GGUF_STRING, buf, 1);
    CHECK(ur_gguf_write(w, path, &err) == -1 && strstr(err.msg, "key 'strs': cannot write an array of 1 string"));
    ur_gguf_writer_free(w);
    w = ur_gguf_writer_new();
    ur_gguf_w_u32(w, "", 1);
    CHECK(ur_gguf_write(w, path, &err) == -1 && strstr(err.msg, "empty metadata key"));
    ur_gguf_writer_free(w);
    /* an unwritable place: one line, nothing left behind */
    w = ur_gguf_writer_new();
    CHECK(ur_gguf_write(w, "/nonexistent-dir/x.gguf", &err) == -1 &&
          strstr(err.msg, "/nonexistent-dir/x.gguf: cannot create /nonexistent-dir/x.gguf.tmp: No such file"));
    ur_gguf_writer_free(w);
}

/* ---- the Llama-2 vocabulary fixture ------------------------------------------------------ */
static void llama_vocab_fixture(void) {
    const char *fx = th_fixtures();
    if (!fx) SKIP("fixtures not found (URIAL_FIXTURES)");
    char path[4200];
    snprintf(path, sizeof path, "%s/tokenizer/llama-spm/vocab-llama-spm.gguf", fx);
    ur_err err;
    ur_gguf *g = ur_gguf_open(path, &err);
    REQUIRE(g);
    CHECK(g->version == 3 && g->alignment == 32 && g->n_tensors == 0 && g->mapped);
    const ur_gguf_kv *toks = NULL, *scores = NULL, *types = NULL;
    CHECK(ur_gguf_get_arr(g, "tokenizer.ggml.tokens", UR_GGUF_STRING, &toks, &err) == 0);
    CHECK(ur_gguf_get_arr(g, "tokenizer.ggml.scores", UR_GGUF_F32, &scores, &err) == 0);
    CHECK(ur_gguf_get_arr(g, "tokenizer.ggml.token_type", UR_GGUF_I32, &types, &err) == 0);
    REQUIRE(toks && scores && types);
    CHECK(toks->arr_n == 32000 && scores->arr_n == 32000 && types->arr_n == 32000);
    CHECK(str_eq(toks->strs[0], "<unk>") && str_eq(toks->strs[1], "<s>") && str_eq(toks->strs[2], "</s>"));
    CHECK(str_eq(toks->strs[3], "<0x00>"));
    ur_str model;
    uint32_t bos = 0;
    CHECK(ur_gguf_get_str(g, "tokenizer.ggml.model", &model, &err) == 0 && str_eq(model, "llama"));
    CHECK(ur_gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &bos, &err) == 0 && bos == 1);

    /* copying the whole tokenizer into a new file keeps it intact */
    ur_gguf_writer *w = ur_gguf_writer_new();
    for (uint64_t i = 0; i < g->n_kv; i++) ur_gguf_w_copy_kv(w, &g->kv[i]);
    const char *out = tmp_path("vocab-copy.gguf");
    CHECKF(ur_gguf_write(w, out, &err) == 0, "%.500s", err.msg);
    ur_gguf_writer_free(w);
    ur_gguf *c = ur_gguf_open(out, &err);
    REQUIRE(c);
    const ur_gguf_kv *t2 = NULL;
    CHECK(c->n_kv == g->n_kv);
    CHECK(ur_gguf_get_arr(c, "tokenizer.ggml.tokens", UR_GGUF_STRING, &t2, &err) == 0 && t2->arr_n == 32000);
    for (uint64_t i = 0; t2 && i < 32000; i++)
        if (t2->strs[i].len != toks->strs[i].len || memcmp(t2->strs[i].ptr, toks->strs[i].ptr, t2->strs[i].len)) {
            CHECKF(0, "token %llu differs", (unsigned long long)i);
            break;
        }
    ur_gguf_close(c);
    ur_gguf_close(g);
}

/* The fuzzer's seeds (tests/fuzz/seeds, written by make fuzz-seeds) stay valid files. */
static void fuzz_seeds_are_valid(void) {
    static const char *const seeds[] = {"llama-tiny.gguf", "llama-tiny-v2.gguf", "all-types.gguf",
                                        "kquants-align64.gguf", "empty.gguf"};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char path[256];
        ur_err err;
        snprintf(path, sizeof path, "tests/fuzz/seeds/%s", seeds[i]);
        ur_gguf *g = ur_gguf_open(path, &err);
        CHECKF(g, "%.500s", err.msg);
        ur_gguf_close(g);
    }
}

int main(void) {
    th_suite = "gguf";
    RUN(roundtrip_default_alignment);
    RUN(roundtrip_alignment_64);
    RUN(roundtrip_alignment_1);
    RUN(roundtrip_empty);
    RUN(writer_replaces_keys);
    RUN(getters);
    RUN(writer_rejects);
    RUN(llama_vocab_fixture);
    RUN(fuzz_seeds_are_valid);
    TEST_MAIN_END();
}
