/* Small jansson helpers (src/base/json_util.h). */
#include "base/json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "urial/base.h"

json_t *ur_json_real6(double v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", v);
    return json_real(strtod(buf, NULL));
}

json_t *ur_json_text(const char *s, size_t n) {
    json_t *j = memchr(s, 0, n) ? NULL : json_stringn(s, n);
    if (j) return j;
    ur_buf b = {0};
    ur_buf_put_utf8(&b, s, n);
    j = json_stringn(b.data ? b.data : "", b.len);
    ur_buf_free(&b);
    return j;
}
