/* Type table and half-precision conversions. The block layouts themselves are
 * described next to their kernels in quant.h. */
#include <string.h>

#include "urial/tensor.h"

typedef struct {
    int id;
    const char *name;
    int block;  /* elements per block */
    int bytes;  /* bytes per block */
    int weight; /* allowed in model files */
} type_info;

static const type_info TYPES[] = {
    {UR_TYPE_F32, "f32", 1, 4, 1},
    {UR_TYPE_F16, "f16", 1, 2, 1},
    {UR_TYPE_BF16, "bf16", 1, 2, 1},
    {UR_TYPE_Q4_0, "q4_0", 32, 18, 1},   /* f16 d; 16 bytes of nibbles */
    {UR_TYPE_Q8_0, "q8_0", 32, 34, 1},   /* f16 d; 32 int8 */
    {UR_TYPE_Q4_K, "q4_K", 256, 144, 1}, /* f16 d, dmin; 12 bytes scales; 128 nibbles */
    {UR_TYPE_Q5_K, "q5_K", 256, 176, 1}, /* f16 d, dmin; 12 scales; 32 high bits; 128 nibbles */
    {UR_TYPE_Q6_K, "q6_K", 256, 210, 1}, /* 128 low nibbles; 64 high 2-bits; 16 int8 scales; f16 d */
    {UR_TYPE_Q8_K, "q8_K", 256, 292, 0}, /* f32 d; 256 int8; 16 int16 block sums */
};

static const type_info *find(int type) {
    for (size_t i = 0; i < sizeof TYPES / sizeof TYPES[0]; i++)
        if (TYPES[i].id == type) return &TYPES[i];
    return NULL;
}

int ur_type_is_weight(int type) {
    const type_info *t = find(type);
    return t && t->weight;
}
const char *ur_type_name(int type) {
    const type_info *t = find(type);
    return t ? t->name : "unknown";
}
int ur_type_block(int type) {
    const type_info *t = find(type);
    return t ? t->block : 0;
}
int ur_type_block_bytes(int type) {
    const type_info *t = find(type);
    return t ? t->bytes : 0;
}
uint64_t ur_row_size(int type, int64_t n) {
    const type_info *t = find(type);
    if (!t || n < 0) return 0;
    return (uint64_t)(n / t->block) * (uint64_t)t->bytes;
}

/* ---- half precision ------------------------------------------------------ */
static inline uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static inline float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float ur_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1F;
    uint32_t man = h & 0x3FF;
    if (exp == 0x1F) return bits_f32(sign | 0x7F800000u | (man << 13)); /* inf / NaN */
    if (exp == 0) {
        if (man == 0) return bits_f32(sign);
        /* subnormal: value = man * 2^-24 */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t ur_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000;
    uint32_t a = u & 0x7FFFFFFFu;
    if (a >= 0x7F800000u) /* inf or NaN (keep NaN quiet and non-zero) */
        return (uint16_t)(sign | 0x7C00 | (a > 0x7F800000u ? 0x200 | ((a >> 13) & 0x3FF) : 0));
    if (a >= 0x477FF000u) return (uint16_t)(sign | 0x7C00); /* rounds to >= 65520: inf */
    if (a < 0x38800000u) {
        /* result is subnormal or zero: round a * 2^24 to an integer, ties to even */
        float v = bits_f32(a) * 16777216.0f; /* exact: a < 2^-14 so v < 2^10 */
        uint32_t i = (uint32_t)v;
        float frac = v - (float)i;
        if (frac > 0.5f || (frac == 0.5f && (i & 1))) i++;
        return (uint16_t)(sign | i);
    }
    /* normal: re-bias exponent, round mantissa to 10 bits, ties to even */
    uint32_t r = a - 0x38000000u; /* exponent 127 -> 15 */
    uint32_t lsb = (r >> 13) & 1;
    r += 0xFFF + lsb;
    return (uint16_t)(sign | (r >> 13));
}

float ur_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t ur_f32_to_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 64); /* quiet NaN */
    return (uint16_t)((u + (0x7FFF + ((u >> 16) & 1))) >> 16);
}
