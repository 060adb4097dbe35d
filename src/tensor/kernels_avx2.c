/* AVX2 kernels (placeholder). */
#include "tensor/quant.h"
void kernels_avx2(kernel_table *t, int vnni) { (void)t; (void)vnni; }
