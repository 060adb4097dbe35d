/* AVX-512 kernels (placeholder). */
#include "tensor/quant.h"
void kernels_avx512(kernel_table *t) { (void)t; }
