/* error_msg.c — see error_msg.h. */
#include "error_msg.h"

#include <stdarg.h>
#include <stdio.h>

static void vset(char *err, size_t errlen, const char *fmt, va_list ap) {
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
}

int err_fail(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vset(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

void err_set(char *err, size_t errlen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vset(err, errlen, fmt, ap);
    va_end(ap);
}
