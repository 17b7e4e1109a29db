/* error_msg.h — filling the caller's error buffer.
 *
 * Every fallible function here takes (char *err, size_t errlen) and, on failure, writes
 * one clear line into it. These two helpers are that one line's printf; ERR may be NULL
 * or ERRLEN 0 (the caller does not want the text). A message longer than the buffer is
 * cut: still one line, so truncation is accepted rather than warned about at each call. */
#ifndef LLMSCOPE_ERROR_MSG_H
#define LLMSCOPE_ERROR_MSG_H

#include <stddef.h>

#if defined(__GNUC__) || defined(__clang__)
#define ERROR_MSG_PRINTF __attribute__((format(printf, 3, 4)))
#else
#define ERROR_MSG_PRINTF
#endif

/* Writes the message; returns -1, so that "return err_fail(err, errlen, ...);" ends a
 * function that reports failure as -1. */
int err_fail(char *err, size_t errlen, const char *fmt, ...) ERROR_MSG_PRINTF;
/* Writes the message. */
void err_set(char *err, size_t errlen, const char *fmt, ...) ERROR_MSG_PRINTF;

#endif
