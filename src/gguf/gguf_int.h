/* urial — GGUF internals shared by read.c and write.c (not a public header). */
#ifndef URIAL_GGUF_INT_H
#define URIAL_GGUF_INT_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of one scalar of a metadata value type; 0 for string, array, unknown. */
int ur_gguf_vsize(int type);
/* A name or key made safe for a one-line message: at most 64 source bytes,
 * non-printables, quote and backslash as \xNN, "..." when cut. Returns buf. */
const char *ur_gguf_esc(const void *s, uint64_t n, char *buf, size_t cap);
/* FNV-1a over n bytes (the name indexes). */
uint64_t ur_gguf_hash(const void *s, uint64_t n);

#endif
