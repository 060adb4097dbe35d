/* tensor: type table, half-precision conversions, reference (de)quantizers
 * (bit-exact on hand-derived blocks), activation quantizers (every SIMD level
 * gives the same bytes), and ur_matmul at every SIMD level against
 * ur_matmul_ref on random data over awkward shapes. */
#include "harness.h"

#include <stdint.h>

#include "tensor/quant.h"
#include "urial/tensor.h"

/* Pools of 1..8 threads, started on first use and kept for the whole binary. */
static ur_pool *g_pools[9];
static ur_pool *tpool(int nt) {
    if (!g_pools[nt]) g_pools[nt] = ur_pool_new(nt, NULL);
    return g_pools[nt];
}

static const char *th_suite_name = "tensor";

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static float rndf(void) { return (float)((double)(rnd() >> 11) / 9007199254740992.0) * 2 - 1; }
static float f32_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t bits_of(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static const int ALL_TYPES[] = {UR_TYPE_Q4_0, UR_TYPE_Q8_0, UR_TYPE_Q4_K, UR_TYPE_Q5_K,
                                UR_TYPE_Q6_K, UR_TYPE_F16, UR_TYPE_BF16, UR_TYPE_F32};
#define NTYPES (int)(sizeof ALL_TYPES / sizeof ALL_TYPES[0])

/* ---- type table ------------------------------------------------------------ */
static void type_table(void) {
    CHECK(ur_type_block_bytes(UR_TYPE_Q4_0) == sizeof(block_q4_0));
    CHECK(ur_type_block_bytes(UR_TYPE_Q8_0) == sizeof(block_q8_0));
    CHECK(ur_type_block_bytes(UR_TYPE_Q4_K) == sizeof(block_q4_K));
    CHECK(ur_type_block_bytes(UR_TYPE_Q5_K) == sizeof(block_q5_K));
    CHECK(ur_type_block_bytes(UR_TYPE_Q6_K) == sizeof(block_q6_K));
    CHECK(ur_type_block_bytes(UR_TYPE_Q8_K) == sizeof(block_q8_K));
    CHECK(ur_row_size(UR_TYPE_Q4_0, 4096) == 4096 / 32 * 18);
    CHECK(ur_row_size(UR_TYPE_Q6_K, 4096) == 16 * 210);
    CHECK(ur_row_size(UR_TYPE_BF16, 10) == 20);
    CHECK(ur_type_is_weight(UR_TYPE_Q5_K) && !ur_type_is_weight(UR_TYPE_Q8_K) && !ur_type_is_weight(7));
    CHECK(strcmp(ur_type_name(UR_TYPE_Q4_K), "q4_K") == 0 && strcmp(ur_type_name(99), "unknown") == 0);
    CHECK(ur_act_type(UR_TYPE_Q4_0) == UR_TYPE_Q8_0 && ur_act_type(UR_TYPE_Q6_K) == UR_TYPE_Q8_K);
    CHECK(ur_act_type(UR_TYPE_BF16) == UR_TYPE_BF16 && ur_act_type(UR_TYPE_Q8_K) == -1);
    CHECK(ur_quantize_row(7, (float[256]){0}, (uint8_t[256]){0}, 256) == -1);           /* no such type */
    CHECK(ur_quantize_row(UR_TYPE_Q4_K, (float[256]){0}, (uint8_t[256]){0}, 200) == -1); /* not whole blocks */
    CHECK(ur_quantize_row(UR_TYPE_Q4_K, (float[256]){0}, (uint8_t[256]){0}, 256) == 0);  /* quant_k.c */
    CHECK(ur_quantize_row(UR_TYPE_Q8_0, (float[40]){0}, (uint8_t[64]){0}, 40) == -1);
}

/* ---- half precision ---------------------------------------------------------- */
static void f16_roundtrip_all(void) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ur_f16_to_f32((uint16_t)h);
        uint16_t back = ur_f32_to_f16(f);
        if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF)) { /* NaN: stays NaN, quieted */
            CHECKF(f != f && back == (h | 0x200), "nan %04x -> %04x", h, back);
        } else {
            CHECKF(back == h, "f16 %04x -> %g -> %04x", h, f, back);
        }
    }
    CHECK(ur_f16_to_f32(0x3C00) == 1.0f && ur_f16_to_f32(0xC000) == -2.0f);
    CHECK(ur_f16_to_f32(0x0001) == 5.9604644775390625e-8f && ur_f16_to_f32(0x7BFF) == 65504.0f);
    CHECK(ur_f32_to_f16(65520.0f) == 0x7C00 && ur_f32_to_f16(65519.99f) == 0x7BFF);
    CHECK(ur_f32_to_f16(1.0f + 1.0f / 2048) == 0x3C00); /* tie to even */
    CHECK(ur_f32_to_f16(1.0f + 3.0f / 2048) == 0x3C02);
    CHECK(ur_f32_to_f16(-0.0f) == 0x8000 && ur_f32_to_f16(1e-9f) == 0);
    CHECK(ur_f32_to_f16(2.98023223876953125e-8f) == 0);      /* 2^-25: tie to even 0 */
    CHECK(ur_f32_to_f16(2.98023259404089e-8f) == 1);         /* just above the tie */
}

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
__attribute__((target("f16c"))) static uint16_t hw_f16(float f) { return _cvtss_sh(f, 0); }
static int have_f16c(void) {
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && ((c >> 29) & 1);
}
#endif

static void f32_to_f16_matches_hardware(void) {
#if defined(__x86_64__)
    if (!have_f16c()) { /* nothing to compare with (not a skip: CI=true fails skips) */
        printf("# no F16C: f32 -> f16 not compared with hardware\n");
        return;
    }
    static const uint32_t edge[] = {0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001,
                                    0xFFC12345, 0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001,
                                    0x38800000, 0x387FFFFF, 0x38000000, 0x33800000, 0x33000000,
                                    0x33000001, 0x32FFFFFF, 0x3F801000, 0x3F803000, 0x3F800FFF,
                                    0x00000001, 0x007FFFFF, 0x7F7FFFFF, 0x3A802000, 0x3A806000};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        float f = f32_of(edge[i]);
        CHECKF(ur_f32_to_f16(f) == hw_f16(f), "%08x: %04x vs hw %04x", edge[i], ur_f32_to_f16(f), hw_f16(f));
    }
    for (int i = 0; i < 1000000; i++) {
        uint32_t u = (uint32_t)rnd();
        if (i & 1) u = (u & 0x87FFFFFFu) | 0x30000000u; /* bias towards the f16 range */
        float f = f32_of(u);
        uint16_t a = ur_f32_to_f16(f), b = hw_f16(f);
        if (a != b) {
            CHECKF(0, "%08x: %04x vs hw %04x", u, a, b);
            break;
        }
    }
#else
    printf("# not x86: f32 -> f16 not compared with hardware\n");
#endif
}

static void bf16_conversions(void) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ur_bf16_to_f32((uint16_t)h);
        CHECK(bits_of(f) == h << 16);
        uint16_t back = ur_f32_to_bf16(f);
        if ((h & 0x7F80) == 0x7F80 && (h & 0x7F)) CHECKF(back == (h | 64), "nan %04x", h);
        else CHECKF(back == h, "bf16 %04x -> %04x", h, back);
    }
    CHECK(ur_f32_to_bf16(1.0f) == 0x3F80);
    CHECK(ur_f32_to_bf16(f32_of(0x3F808000)) == 0x3F80); /* tie: to even */
    CHECK(ur_f32_to_bf16(f32_of(0x3F818000)) == 0x3F82);
    CHECK(ur_f32_to_bf16(f32_of(0x3F808001)) == 0x3F81);
    CHECK(ur_f32_to_bf16(f32_of(0x7F7FFFFF)) == 0x7F80); /* rounds up to inf */
    CHECK(ur_f32_to_bf16(f32_of(0xFF800000)) == 0xFF80);
}

/* ---- reference quantizers: hand-derived blocks --------------------------------- */
static void q8_0_hand_blocks(void) {
    float x[32] = {0};
    block_q8_0 b;
    REQUIRE(ur_quantize_row(UR_TYPE_Q8_0, x, &b, 32) == 0);
    CHECK(b.d == 0);
    for (int j = 0; j < 32; j++) CHECK(b.qs[j] == 0);
    /* amax 127 -> d = 1 exactly, q = roundf(x): halves go away from zero */
    x[3] = -127; x[4] = 2.5f; x[5] = -2.5f; x[6] = 0.49f; x[7] = 126.5f; x[8] = -0.5f;
    ur_quantize_row(UR_TYPE_Q8_0, x, &b, 32);
    CHECK(b.d == 0x3C00);
    CHECK(b.qs[3] == -127 && b.qs[4] == 3 && b.qs[5] == -3 && b.qs[6] == 0 && b.qs[7] == 127 && b.qs[8] == -1);
    CHECK(b.qs[0] == 0 && b.qs[31] == 0);
    /* one large value: amax 254 -> d = 2 (0x4000), x = 3 -> 1.5 -> 2 */
    memset(x, 0, sizeof x);
    x[31] = 254; x[0] = 3;
    ur_quantize_row(UR_TYPE_Q8_0, x, &b, 32);
    CHECK(b.d == 0x4000 && b.qs[31] == 127 && b.qs[0] == 2);
}

static void q4_0_hand_blocks(void) {
    float x[32] = {0};
    block_q4_0 b;
    ur_quantize_row(UR_TYPE_Q4_0, x, &b, 32);
    CHECK(b.d == 0x8000); /* d = 0 / -8 = -0 */
    for (int j = 0; j < 16; j++) CHECK(b.qs[j] == 0x88); /* id = 0: trunc(8.5) = 8 */
    /* largest magnitude -8 -> d = 1, q = min(15, trunc(x + 8.5)) */
    x[0] = -8; x[1] = 7; x[2] = 7.4f; x[3] = 0.5f; x[4] = -0.5f; x[5] = 3.49f;
    x[16] = 1; x[17] = -7.9f;
    ur_quantize_row(UR_TYPE_Q4_0, x, &b, 32);
    CHECK(b.d == 0x3C00);
    CHECK(b.qs[0] == (0 | 9 << 4)); /* x[0] -> 0, x[16] -> 9 */
    CHECK(b.qs[1] == (15 | 0 << 4)); /* x[1] -> 15, x[17] = -7.9 -> trunc(0.6) = 0 */
    CHECK(b.qs[2] == (15 | 8 << 4) && b.qs[3] == (9 | 8 << 4) && b.qs[4] == (8 | 8 << 4));
    CHECK(b.qs[5] == (11 | 8 << 4));
    /* largest magnitude +8 -> d = -1: x = 8 -> 0, x = -8 -> 16 clipped to 15 */
    memset(x, 0, sizeof x);
    x[0] = 8; x[1] = -8; x[17] = 2;
    ur_quantize_row(UR_TYPE_Q4_0, x, &b, 32);
    CHECK(b.d == 0xBC00 && b.qs[0] == (0 | 8 << 4) && b.qs[1] == (15 | 6 << 4));
}

static void q8_K_hand_blocks(void) {
    float x[256] = {0};
    block_q8_K b;
    memset(&b, 0x55, sizeof b);
    ur_quantize_row(UR_TYPE_Q8_K, x, &b, 256);
    CHECK(b.d == 0 && b.qs[0] == 0 && b.qs[255] == 0 && b.bsums[0] == 0 && b.bsums[15] == 0);
    /* largest magnitude -127: scale -127/-127 = 1, round half to even, d = 1 */
    x[0] = -127; x[1] = 63.5f; x[2] = 62.5f; x[3] = -0.5f; x[4] = 1.5f; x[20] = -2.5f;
    ur_quantize_row(UR_TYPE_Q8_K, x, &b, 256);
    CHECK(b.d == 1.0f);
    CHECK(b.qs[0] == -127 && b.qs[1] == 64 && b.qs[2] == 62 && b.qs[3] == 0 && b.qs[4] == 2);
    CHECK(b.bsums[0] == -127 + 64 + 62 + 2 && b.bsums[1] == -2 && b.bsums[2] == 0);
    /* largest magnitude +254: scale -0.5, d = -2 */
    memset(x, 0, sizeof x);
    x[255] = 254; x[254] = 3; x[253] = -5;
    ur_quantize_row(UR_TYPE_Q8_K, x, &b, 256);
    CHECK(b.d == -2.0f && b.qs[255] == -127 && b.qs[254] == -2 && b.qs[253] == 2);
    CHECK(b.bsums[15] == -127);
}

/* ---- round trips ----------------------------------------------------------------- */
static void quant_roundtrip_bounds(void) {
    enum { N = 4096 };
    static float x[N], y[N];
    static uint8_t q[N * 4];
    for (int i = 0; i < N; i++) x[i] = rndf() * (i % 97 == 0 ? 30.f : 1.f);
    int types[] = {UR_TYPE_Q8_0, UR_TYPE_Q4_0, UR_TYPE_Q8_K, UR_TYPE_F16, UR_TYPE_BF16, UR_TYPE_F32};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        int type = types[ti], bs = ur_type_block(type);
        REQUIRE(ur_quantize_row(type, x, q, N) == 0);
        ur_dequantize_row(type, q, y, N);
        for (int b = 0; b < N / bs; b++) {
            float amax = 0;
            for (int j = 0; j < bs; j++) amax = fmaxf(amax, fabsf(x[b * bs + j]));
            for (int j = b * bs; j < (b + 1) * bs; j++) {
                float e = fabsf(x[j] - y[j]), bound;
                switch (type) {
                case UR_TYPE_Q8_0: bound = amax / 127 * 0.57f; break; /* half a step + f16 d */
                case UR_TYPE_Q4_0: bound = amax / 8 * 1.01f; break;   /* +amax clips to 7d */
                case UR_TYPE_Q8_K: bound = amax / 127 * 0.5001f; break;
                case UR_TYPE_F16: bound = fabsf(x[j]) / 2048 + 3e-8f; break;
                case UR_TYPE_BF16: bound = fabsf(x[j]) / 256; break;
                default: bound = 0;
                }
                if (e > bound) {
                    CHECKF(0, "%s element %d: %g -> %g (bound %g)", ur_type_name(type), j, x[j], y[j], bound);
                    return;
                }
            }
        }
    }
}

/* Dequantize the K-quants on hand-built blocks: every field lands where quant.h says. */
static void kquant_dequant_hand(void) {
    block_q4_K b;
    memset(&b, 0, sizeof b);
    b.d = 0x3C00;    /* 1 */
    b.dmin = 0x3800; /* 0.5 */
    b.scales[0] = 2 | (1 << 6);    /* sc0 = 2; top bits of sc4 = 1 */
    b.scales[4] = 3 | (2 << 6);    /* m0 = 3; top bits of m4 = 2 */
    b.scales[8] = 5 | (7 << 4);    /* sc4 low = 5, m4 low = 7 -> sc4 = 21, m4 = 39 */
    b.qs[0] = 0x4A;                /* element 0: 10 (sub 0), element 32: 4 (sub 1) */
    b.qs[64] = 0x0F;               /* element 128: 15 (sub 4) */
    float y[256];
    ur_dequantize_row(UR_TYPE_Q4_K, &b, y, 256);
    CHECK(y[0] == 2 * 10 - 1.5f && y[1] == -1.5f);
    CHECK(y[32] == 0 * 4 - 0); /* sub 1: sc = m = 0 */
    CHECK(y[128] == 21 * 15 - 0.5f * 39 && y[129] == -0.5f * 39);

    block_q6_K c;
    memset(&c, 0, sizeof c);
    c.d = 0x3C00;
    c.scales[0] = 1; c.scales[2] = -1; c.scales[8] = 3;
    c.ql[0] = 0x21;      /* element 0 low 1; element 64 low 2 */
    c.qh[0] = 0x2 | 0x4; /* element 0 high 2 -> q 33; element 32 high 1 */
    c.ql[64] = 0x05;     /* second half: element 128 low 5 */
    float z[256];
    ur_dequantize_row(UR_TYPE_Q6_K, &c, z, 256);
    CHECK(z[0] == 1 * (33 - 32));
    CHECK(z[32] == -1 * (16 - 32));
    CHECK(z[128] == 3 * (5 - 32));
    CHECK(z[64] == 0); /* scale 4 is zero */
}

/* ---- random weights ------------------------------------------------------------------ */
static uint16_t rnd_scale(float mag) { return ur_f32_to_f16(mag * (0.25f + 0.75f * fabsf(rndf()))); }

/* rows x k weights of `type` with every bit random except the f16 scales. */
static void random_weights(int type, uint8_t *w, int64_t rows, int64_t k) {
    uint64_t bytes = ur_row_size(type, k) * (uint64_t)rows;
    for (uint64_t i = 0; i < bytes; i++) w[i] = (uint8_t)rnd();
    int64_t nblk = rows * k / ur_type_block(type);
    for (int64_t i = 0; i < nblk; i++) {
        switch (type) {
        case UR_TYPE_Q4_0: ((block_q4_0 *)w)[i].d = rnd_scale(0.1f) ^ (uint16_t)(rnd() & 0x8000); break;
        case UR_TYPE_Q8_0: ((block_q8_0 *)w)[i].d = rnd_scale(0.01f) ^ (uint16_t)(rnd() & 0x8000); break;
        case UR_TYPE_Q4_K:
            ((block_q4_K *)w)[i].d = rnd_scale(0.01f);
            ((block_q4_K *)w)[i].dmin = rnd_scale(0.01f);
            break;
        case UR_TYPE_Q5_K:
            ((block_q5_K *)w)[i].d = rnd_scale(0.01f);
            ((block_q5_K *)w)[i].dmin = rnd_scale(0.01f);
            break;
        case UR_TYPE_Q6_K: ((block_q6_K *)w)[i].d = rnd_scale(0.001f); break;
        case UR_TYPE_F16: ((uint16_t *)w)[i] = ur_f32_to_f16(rndf()); break;
        case UR_TYPE_BF16: ((uint16_t *)w)[i] = ur_f32_to_bf16(rndf()); break;
        case UR_TYPE_F32: ((float *)w)[i] = rndf(); break;
        }
    }
}

/* ---- activation quantizers: every level gives the same bytes ---------------------------- */
static void act_prepare_levels_agree(void) {
    int acts[] = {UR_TYPE_Q8_0, UR_TYPE_Q8_K, UR_TYPE_F16, UR_TYPE_BF16, UR_TYPE_F32};
    int maxl = ur_simd_set(UR_SIMD_AVX512);
    for (size_t ai = 0; ai < sizeof acts / sizeof acts[0]; ai++) {
        int type = acts[ai];
        int64_t n = 19, k = type == UR_TYPE_Q8_K ? 768 : 352;
        float *x = malloc(sizeof(float) * (size_t)(n * k));
        for (int64_t i = 0; i < n * k; i++) x[i] = rndf() * (i % 13 ? 1.f : 8.f);
        for (int64_t i = 0; i < k; i++) x[3 * k + i] = 0; /* an all-zero row */
        for (int64_t i = 0; i < 32; i++) x[4 * k + i] = (float)(i - 16) * 0.5f; /* exact halves */
        if (type == UR_TYPE_F16 || type == UR_TYPE_BF16 || type == UR_TYPE_F32) {
            /* conversions: NaN, infinities, ties, subnormals, overflow */
            static const uint32_t sp[] = {0x7FC00000, 0x7F800001, 0xFF800000, 0x7F800000, 0x3F808000, 0x3F818000,
                                          0x3F801000, 0x3F803000, 0x00000001, 0x33000000, 0x477FF000, 0x7F7FFFFF,
                                          0x80000000, 0x38800000, 0x387FF000, 0xC77FEFFF};
            for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++) x[5 * k + 3 + (int64_t)i] = f32_of(sp[i]);
        }
        ur_act ref = {0}, a = {0};
        ur_simd_set(UR_SIMD_SCALAR);
        ur_act_prepare(&ref, type, x, n, k, tpool(1));
        act_layout L;
        act_layout_of(type, n, k, &L);
        for (int lvl = 1; lvl <= maxl; lvl++) {
            ur_simd_set(lvl);
            for (int nt = 1; nt <= 2; nt++) {
                ur_act_prepare(&a, type, x, n, k, tpool(nt));
                CHECK(a.n == n && a.k == k && a.type == type);
                for (int64_t t = 0; t < n; t++) {
                    size_t qb = type == UR_TYPE_F32 ? 4 : type == UR_TYPE_Q8_0 || type == UR_TYPE_Q8_K ? 1 : 2;
                    CHECKF(!memcmp(act_qs(&a, &L, t), act_qs(&ref, &L, t), qb * (size_t)k),
                           "%s level %d row %d: quants differ", ur_type_name(type), lvl, (int)t);
                    CHECKF(!memcmp(act_d(&a, &L, t), act_d(&ref, &L, t), 4 * (size_t)L.nb),
                           "%s level %d row %d: scales differ", ur_type_name(type), lvl, (int)t);
                    size_t sb = (size_t)L.nsum * (type == UR_TYPE_Q8_K ? 2 : 4);
                    CHECKF(!memcmp(act_dsum(&a, &L, t), act_dsum(&ref, &L, t), sb),
                           "%s level %d row %d: sums differ", ur_type_name(type), lvl, (int)t);
                }
                CHECK(!memcmp((char *)a.data + L.off_pan, (char *)ref.data + L.off_pan, L.total - L.off_pan));
            }
        }
        ur_act_free(&a);
        ur_act_free(&ref);
        free(x);
    }
    ur_simd_set(maxl);
}

/* The Q8_0 activation quantizer rounds halves to even (llama.cpp's x86 path). */
static void act_q8_0_hand(void) {
    float x[32] = {0};
    x[0] = 127; x[1] = 2.5f; x[2] = -2.5f; x[3] = 3.5f; x[4] = 0.5f;
    ur_act a = {0};
    ur_act_prepare(&a, UR_TYPE_Q8_0, x, 1, 32, tpool(1));
    act_layout L;
    act_layout_of(UR_TYPE_Q8_0, 1, 32, &L);
    const int8_t *q = act_qs(&a, &L, 0);
    CHECK(act_d(&a, &L, 0)[0] == 1.0f);
    CHECK(q[0] == 127 && q[1] == 2 && q[2] == -2 && q[3] == 4 && q[4] == 0);
    CHECK(act_dsum(&a, &L, 0)[0] == 127 + 2 - 2 + 4);
    ur_act_free(&a);
}

/* ---- matmul against the reference ------------------------------------------------------ */
typedef struct { int64_t rows, n, kblocks; } shape;

static double l2(const float *v, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)v[i] * v[i];
    return sqrt(s);
}

static void check_type(int type, const shape *shapes, int nshapes) {
    int maxl = ur_simd_set(UR_SIMD_AVX512);
    for (int si = 0; si < nshapes && !th_failed_now; si++) {
        int64_t rows = shapes[si].rows, n = shapes[si].n;
        int64_t k = shapes[si].kblocks * (ur_type_block(type) == 256 ? 256 : 32);
        uint8_t *w = malloc(ur_row_size(type, k) * (size_t)rows);
        float *x = malloc(sizeof(float) * (size_t)(n * k));
        float *yr = malloc(sizeof(float) * (size_t)(n * rows)), *y = malloc(sizeof(float) * (size_t)(n * (rows + 3)));
        float *wf = malloc(sizeof(float) * (size_t)k);
        double *wn = malloc(sizeof(double) * (size_t)rows);
        random_weights(type, w, rows, k);
        for (int64_t i = 0; i < n * k; i++) x[i] = rndf();
        for (int64_t r = 0; r < rows; r++) {
            ur_dequantize_row(type, w + r * ur_row_size(type, k), wf, k);
            wn[r] = l2(wf, k);
        }
        ur_act a = {0};
        for (int lvl = 0; lvl <= maxl && !th_failed_now; lvl++) {
            ur_simd_set(lvl);
            ur_act_prepare(&a, ur_act_type(type), x, n, k, tpool(2));
            ur_matmul_ref(w, type, rows, &a, yr, rows);
            for (int nt = 1; nt <= 2 && !th_failed_now; nt++) {
                for (int64_t i = 0; i < n * (rows + 3); i++) y[i] = NAN;
                ur_matmul(w, type, rows, &a, y, rows + 3, tpool(nt));
                for (int64_t t = 0; t < n; t++) {
                    double xn = l2(x + t * k, k);
                    for (int64_t r = 0; r < rows; r++) {
                        double e = fabs((double)y[t * (rows + 3) + r] - yr[t * rows + r]);
                        double tol = 2e-5 * wn[r] * xn + 1e-30;
                        if (!(e <= tol)) {
                            CHECKF(0, "%s %s rows %d n %d k %d threads %d: y[%d][%d] = %g, ref %g",
                                   ur_type_name(type), ur_simd_name(lvl), (int)rows, (int)n, (int)k, nt,
                                   (int)t, (int)r, y[t * (rows + 3) + r], yr[t * rows + r]);
                            goto done;
                        }
                    }
                    for (int64_t r = rows; r < rows + 3; r++)
                        CHECKF(isnan(y[t * (rows + 3) + r]), "%s wrote past its rows", ur_simd_name(lvl));
                }
            }
        }
    done:
        ur_act_free(&a);
        free(w); free(x); free(yr); free(y); free(wf); free(wn);
    }
    ur_simd_set(maxl);
}

/* Awkward shapes: rows not a multiple of any tile, n across the GEMV/GEMM switch,
 * one block and several (including odd counts and counts not a multiple of 8). */
static const shape SHAPES_32[] = {
    {1, 1, 1}, {7, 2, 1}, {33, 3, 9}, {19, 5, 8}, {40, 17, 16}, {5, 64, 3}, {37, 100, 11},
    {70, 1, 64}, {3, 4, 67}, {64, 16, 24}, {17, 33, 2},
};
static const shape SHAPES_256[] = {
    {1, 1, 1}, {7, 2, 1}, {33, 3, 3}, {19, 5, 2}, {40, 17, 1}, {5, 64, 2}, {21, 100, 1},
    {70, 1, 8}, {3, 4, 5}, {48, 16, 2},
};
#define NS(a) (int)(sizeof a / sizeof a[0])

static void matmul_q4_0(void) { check_type(UR_TYPE_Q4_0, SHAPES_32, NS(SHAPES_32)); }
static void matmul_q8_0(void) { check_type(UR_TYPE_Q8_0, SHAPES_32, NS(SHAPES_32)); }
static void matmul_q4_K(void) { check_type(UR_TYPE_Q4_K, SHAPES_256, NS(SHAPES_256)); }
static void matmul_q5_K(void) { check_type(UR_TYPE_Q5_K, SHAPES_256, NS(SHAPES_256)); }
static void matmul_q6_K(void) { check_type(UR_TYPE_Q6_K, SHAPES_256, NS(SHAPES_256)); }
static void matmul_f16(void) { check_type(UR_TYPE_F16, SHAPES_32, NS(SHAPES_32)); }
static void matmul_bf16(void) { check_type(UR_TYPE_BF16, SHAPES_32, NS(SHAPES_32)); }
static void matmul_f32(void) { check_type(UR_TYPE_F32, SHAPES_32, NS(SHAPES_32)); }

/* k beyond one packed chunk of the GEMM kernels (8192 elements): y accumulates over chunks. */
static void matmul_long_k(void) {
    for (int i = 0; i < NTYPES && !th_failed_now; i++) {
        int bs = ur_type_block(ALL_TYPES[i]);
        const shape s[] = {{9, 20, bs == 256 ? 36 : 300}, {5, 2, bs == 256 ? 33 : 260}};
        check_type(ALL_TYPES[i], s, 2);
    }
}

/* One ur_act reused for different sizes and types (the buffer grows, never stale). */
static void act_reuse(void) {
    enum { K = 512 };
    static float x[100 * K];
    static uint8_t w[8 * K * 4];
    float y[100 * 8], yr[100 * 8];
    for (int i = 0; i < 100 * K; i++) x[i] = rndf();
    ur_act a = {0};
    const int ns[] = {100, 1, 17, 3, 64};
    for (int i = 0; i < 5; i++) {
        int type = ALL_TYPES[i % NTYPES];
        random_weights(type, w, 8, K);
        ur_act_prepare(&a, ur_act_type(type), x, ns[i], K, tpool(2));
        ur_matmul(w, type, 8, &a, y, 8, tpool(2));
        ur_matmul_ref(w, type, 8, &a, yr, 8);
        for (int j = 0; j < ns[i] * 8; j++)
            CHECKF(fabsf(y[j] - yr[j]) <= 1e-3f * (1 + fabsf(yr[j])), "%s n %d: %g vs %g", ur_type_name(type), ns[i],
                   y[j], yr[j]);
    }
    ur_act_free(&a);
    CHECK(a.data == NULL && a.cap == 0);
}

/* The AVX2 kernels without AVX-VNNI (vpmaddubsw path), when the CPU has VNNI. */
static void matmul_avx2_without_vnni(void) {
    if (ur_simd_set(UR_SIMD_AVX512) < UR_SIMD_AVX2) { /* no AVX2 level on this CPU: nothing to test */
        printf("# no AVX2: the AVX2 kernels are not tested here\n");
        return;
    }
    int old = ur_simd_allow_vnni(0);
    for (int i = 0; i < NTYPES && !th_failed_now; i++) {
        int bs = ur_type_block(ALL_TYPES[i]);
        const shape s[] = {{33, 3, bs == 256 ? 2 : 9}, {19, 20, bs == 256 ? 1 : 8}};
        check_type(ALL_TYPES[i], s, 2);
    }
    ur_simd_allow_vnni(old);
}

static void simd_levels(void) {
    int maxl = ur_simd_set(UR_SIMD_AVX512);
    CHECK(maxl >= UR_SIMD_SCALAR && maxl <= UR_SIMD_AVX512);
    CHECK(ur_simd_set(UR_SIMD_SCALAR) == UR_SIMD_SCALAR && ur_simd_level() == UR_SIMD_SCALAR);
    CHECK(ur_simd_set(99) == maxl);
    CHECK(strcmp(ur_simd_name(UR_SIMD_AVX2), "avx2") == 0);
    printf("# simd level: %s\n", ur_simd_name(maxl));
}

/* Activations and products are the same bytes for pools of 1, 2, 3 and 8 threads
 * (rows cut into different chunks, taken by whichever thread is free) as on the
 * caller alone: every type, GEMV and GEMM. */
static void matmul_threads_bit_identical(void) {
    enum { ROWS = 1000, K = 512 };
    const int64_t ns[] = {1, 5, 64};
    float *x = malloc(sizeof(float) * 64 * K), *y0 = malloc(sizeof(float) * 64 * ROWS);
    float *y = malloc(sizeof(float) * 64 * ROWS);
    uint8_t *w = malloc(ur_row_size(UR_TYPE_F32, K) * ROWS);
    REQUIRE(x && y0 && y && w);
    for (int i = 0; i < 64 * K; i++) x[i] = rndf();
    ur_act a0 = {0}, a = {0};
    for (int ti = 0; ti < NTYPES && !th_failed_now; ti++) {
        const int type = ALL_TYPES[ti];
        random_weights(type, w, ROWS, K);
        for (int ni = 0; ni < 3; ni++) {
            const int64_t n = ns[ni];
            act_layout L;
            act_layout_of(ur_act_type(type), n, K, &L);
            ur_act_prepare(&a0, ur_act_type(type), x, n, K, NULL);
            ur_matmul(w, type, ROWS, &a0, y0, ROWS, NULL);
            const int nts[] = {1, 2, 3, 8};
            for (int i = 0; i < 4; i++) {
                ur_act_prepare(&a, ur_act_type(type), x, n, K, tpool(nts[i]));
                CHECKF(!memcmp(a.data, a0.data, L.total), "%s n %d, %d threads: activations differ",
                       ur_type_name(type), (int)n, nts[i]);
                memset(y, 0, sizeof(float) * (size_t)(n * ROWS));
                ur_matmul(w, type, ROWS, &a, y, ROWS, tpool(nts[i]));
                CHECKF(!memcmp(y, y0, sizeof(float) * (size_t)(n * ROWS)), "%s n %d, %d threads: products differ",
                       ur_type_name(type), (int)n, nts[i]);
            }
        }
    }
    ur_act_free(&a0), ur_act_free(&a);
    free(x), free(y0), free(y), free(w);
}

int main(void) {
    th_suite = th_suite_name;
    RUN(type_table);
    RUN(f16_roundtrip_all);
    RUN(f32_to_f16_matches_hardware);
    RUN(bf16_conversions);
    RUN(q8_0_hand_blocks);
    RUN(q4_0_hand_blocks);
    RUN(q8_K_hand_blocks);
    RUN(quant_roundtrip_bounds);
    RUN(kquant_dequant_hand);
    RUN(simd_levels);
    RUN(act_q8_0_hand);
    RUN(act_prepare_levels_agree);
    RUN(matmul_q4_0);
    RUN(matmul_q8_0);
    RUN(matmul_q4_K);
    RUN(matmul_q5_K);
    RUN(matmul_q6_K);
    RUN(matmul_f16);
    RUN(matmul_bf16);
    RUN(matmul_f32);
    RUN(matmul_long_k);
    RUN(act_reuse);
    RUN(matmul_avx2_without_vnni);
    RUN(matmul_threads_bit_identical);
    for (int i = 0; i < 9; i++) ur_pool_free(g_pools[i]);
    TEST_MAIN_END();
}
