/* Small jansson helpers shared by the modules that write JSON records (internal). */
#ifndef URIAL_BASE_JSON_UTIL_H
#define URIAL_BASE_JSON_UTIL_H

#include <stddef.h>

#include <jansson.h>

/* A float option as the user would write it (6 significant digits), so that a
 * record's config reads 1.1, not 1.100000023841858, and compares equal after a
 * round trip through a file. */
json_t *ur_json_real6(double v);

/* A JSON string of n bytes; bytes that are not valid UTF-8, and NULs, become
 * U+FFFD (a model can emit any byte), so that every reader accepts the record. */
json_t *ur_json_text(const char *s, size_t n);

/* How records are written: compact, reals with 10 significant digits. */
#define UR_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(10))

#endif
