/* unicode.h — the UTF-8 and Unicode-property helpers the tokenizer needs.
 *
 * The public UTF-8 functions (utf8_valid, utf8_stream_*) are declared in tokenizer.h;
 * this header holds the internal ones. Character properties come from utf8proc, so the
 * Unicode version is the one the system library ships. */
#ifndef LLMSCOPE_UNICODE_H
#define LLMSCOPE_UNICODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the UTF-8 sequence that starts with byte B, judged by the lead byte alone
 * (1 for ASCII and for bytes that cannot start a sequence). Only meaningful on text that
 * utf8_valid() accepted. */
static inline size_t utf8_seq_len(unsigned char b) {
    if (b < 0xC0) return 1;
    if (b < 0xE0) return 2;
    if (b < 0xF0) return 3;
    return 4;
}

/* Decodes the character at S (LEN bytes available) of already-validated text; sets *N to
 * its byte length. */
uint32_t utf8_decode(const char *s, size_t len, size_t *n);
/* Writes the UTF-8 form of CP (at most 4 bytes) to OUT and returns its length. */
size_t utf8_encode(uint32_t cp, char *out);

/* Unicode White_Space (what \s means in the Hugging Face and llama.cpp regexes). */
bool ucp_is_whitespace(uint32_t cp);
/* General category P* (punctuation). */
bool ucp_is_punctuation(uint32_t cp);
/* Cc, Cf, Co, Cn: characters BERT's text cleaning drops. */
bool ucp_is_control(uint32_t cp);
/* Mn: the combining marks BERT's accent stripping removes after NFD. */
bool ucp_is_nonspacing_mark(uint32_t cp);
/* The CJK ideograph blocks BERT isolates as one-character words. */
bool ucp_is_cjk_ideograph(uint32_t cp);
uint32_t ucp_tolower(uint32_t cp);
/* Canonical decomposition (NFD) of LEN bytes of valid UTF-8: a malloc'd, NUL-terminated
 * string whose length goes to *OUT_LEN, or NULL when out of memory. */
char *ucp_nfd(const char *s, size_t len, size_t *out_len);

#endif
