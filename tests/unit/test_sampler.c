/* Samplers: greedy, seeds, top-k/top-p/min-p truncation, both repetition penalties. */
#include <math.h>

#include "harness.h"
#include "urial/generate.h"

#define NV 50

static void fill(float *l) {
    for (int i = 0; i < NV; i++) l[i] = (float)((i * 37) % NV) * 0.1f; /* distinct, max at i with i*37%50 == 49 */
}

static int argmax(const float *l) {
    int b = 0;
    for (int i = 1; i < NV; i++)
        if (l[i] > l[b]) b = i;
    return b;
}

static void greedy_is_argmax(void) {
    ur_sampler_params p;
    ur_sampler_defaults(&p);
    ur_sampler *s = ur_sampler_new(&p, NV);
    float l[NV];
    fill(l);
    int want = argmax(l);
    CHECK(ur_sample(s, l) == want);
    ur_sampler_free(s);
}

static void seed_reproducible(void) {
    ur_sampler_params p;
    ur_sampler_defaults(&p);
    p.temp = 1.0f;
    p.seed = 42;
    int a[64], b[64], differs_other_seed = 0;
    for (int run = 0; run < 3; run++) {
        if (run == 2) p.seed = 43;
        ur_sampler *s = ur_sampler_new(&p, NV);
        for (int i = 0; i < 64; i++) {
            float l[NV];
            fill(l);
            int t = ur_sample(s, l);
            if (run == 0) a[i] = t;
            else if (run == 1) b[i] = t;
            else differs_other_seed |= t != a[i];
        }
        ur_sampler_free(s);
    }
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(differs_other_seed);
}

static void topk1_topp0_minp1_are_greedy(void) {
    float l[NV];
    fill(l);
    int want = argmax(l);
    for (int mode = 0; mode < 3; mode++) {
        ur_sampler_params p;
        ur_sampler_defaults(&p);
        p.temp = 5.0f;
        if (mode == 0) p.top_k = 1;
        if (mode == 1) p.top_p = 1e-6f;
        if (mode == 2) p.min_p = 1.0f;
        for (uint64_t seed = 0; seed < 20; seed++) {
            p.seed = seed;
            ur_sampler *s = ur_sampler_new(&p, NV);
            fill(l);
            CHECKF(ur_sample(s, l) == want, "mode %d seed %llu", mode, (unsigned long long)seed);
            ur_sampler_free(s);
        }
    }
}

/* Sampled frequencies follow softmax(l / T) within the top-k set. */
static void frequencies_follow_softmax(void) {
    ur_sampler_params p;
    ur_sampler_defaults(&p);
    p.temp = 0.5f;
    p.top_k = 3;
    p.seed = 7;
    float base[NV];
    for (int i = 0; i < NV; i++) base[i] = -10.0f;
    base[3] = 1.0f, base[9] = 0.7f, base[20] = 0.2f, base[30] = 0.1f; /* 30 is cut by top-k */
    double z = exp(1.0 / 0.5) + exp(0.7 / 0.5) + exp(0.2 / 0.5);
    double want[3] = {exp(1.0 / 0.5) / z, exp(0.7 / 0.5) / z, exp(0.2 / 0.5) / z};
    int cnt[NV] = {0};
    ur_sampler *s = ur_sampler_new(&p, NV);
    const int N = 20000;
    for (int i = 0; i < N; i++) {
        float l[NV];
        memcpy(l, base, sizeof l);
        cnt[ur_sample(s, l)]++;
    }
    ur_sampler_free(s);
    CHECK(cnt[30] == 0);
    CHECKF(fabs(cnt[3] / (double)N - want[0]) < 0.015, "p(3) %.3f want %.3f", cnt[3] / (double)N, want[0]);
    CHECKF(fabs(cnt[9] / (double)N - want[1]) < 0.015, "p(9) %.3f want %.3f", cnt[9] / (double)N, want[1]);
    CHECKF(fabs(cnt[20] / (double)N - want[2]) < 0.015, "p(20) %.3f want %.3f", cnt[20] / (double)N, want[2]);
}

/* HF style penalises every token seen; llama.cpp style only the last N. */
static void repetition_penalty_meanings(void) {
    float l[NV];
    for (int i = 0; i < NV; i++) l[i] = 0.0f;
    l[5] = 2.0f, l[6] = 1.9f, l[7] = -1.0f;
    ur_sampler_params p;
    ur_sampler_defaults(&p);
    p.repeat_penalty = 1.1f;
    ur_sampler *hf = ur_sampler_new(&p, NV);
    p.repeat_last_n = 2;
    ur_sampler *win = ur_sampler_new(&p, NV);
    int hist[] = {5, 7, 1, 2};
    for (int i = 0; i < 4; i++) ur_sampler_accept(hf, hist[i]), ur_sampler_accept(win, hist[i]);
    float a[NV], b[NV];
    memcpy(a, l, sizeof a);
    memcpy(b, l, sizeof b);
    CHECK(ur_sample(hf, a) == 6);            /* 5 seen: 2.0/1.1 < 1.9 */
    CHECK(fabsf(a[5] - 2.0f / 1.1f) < 1e-6f);
    CHECK(fabsf(a[7] - -1.1f) < 1e-6f);      /* negative logits are multiplied */
    CHECK(ur_sample(win, b) == 5);           /* window {1, 2}: 5 not penalised */
    CHECK(b[7] == -1.0f);
    ur_sampler_free(hf);
    ur_sampler_free(win);
}

int main(void) {
    th_suite = "sampler";
    RUN(greedy_is_argmax);
    RUN(seed_reproducible);
    RUN(topk1_topp0_minp1_are_greedy);
    RUN(frequencies_follow_softmax);
    RUN(repetition_penalty_meanings);
    TEST_MAIN_END();
}
