/* Row kernels the training ops spend their non-GEMM time in, with AVX-512 and
 * AVX2 paths chosen at run time (ur_simd_level) and a scalar reference.
 * exp is a Cephes-style degree-6 polynomial on [-ln2/2, ln2/2] times 2^n: within
 * 2 ulp of expf over the float range, 0 below -87.3 (no denormals). */
#ifndef URIAL_TRAIN_VMATH_H
#define URIAL_TRAIN_VMATH_H

/* y[i] = exp(x[i] - m); returns the sum of the y (y may alias x). */
float ur_vexp_sum(float *y, const float *x, float m, int n);
/* max of x[0..n) (-inf for n = 0) */
float ur_vmax(const float *x, int n);
/* sum of a[i] * b[i] in float with 16 partial sums */
float ur_vdot(const float *a, const float *b, int n);
/* SwiGLU forward h = silu(g) * u, and its backward: from dh, dg and du (dg may
 * alias g, du may alias u: each element is read before it is written); when h is
 * not NULL it receives silu(g) * u again (the input of the down projection). */
void ur_vswiglu(float *h, const float *g, const float *u, int n);
void ur_vswiglu_back(float *dg, float *du, float *h, const float *g, const float *u, const float *dh, int n);

#endif
