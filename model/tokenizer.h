/* tokenizer.h — text <-> token ids for the vocabularies GGUF files carry.
 *
 * Kinds (tokenizer.ggml.model): "llama" (SentencePiece: scores, byte fallback, space
 * prefix), "gpt2" (byte-level BPE: merges plus the pre-tokenizer named by
 * tokenizer.ggml.pre), "bert" (WordPiece). */
#ifndef LLMSCOPE_TOKENIZER_H
#define LLMSCOPE_TOKENIZER_H

#include "gguf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tokenizer tokenizer;

typedef enum { TOKENIZER_SPM, TOKENIZER_BPE, TOKENIZER_WPM } tokenizer_kind;

/* Reads the vocabulary from F (which must outlive the tokenizer). Checks every array's
 * length and every id; on failure fills ERR with one line and returns NULL. */
tokenizer *tokenizer_load(const gguf_file *f, char *err, size_t errlen);
void tokenizer_free(tokenizer *t);

/* Encodes LEN bytes of TEXT. ADD_BOS: prepend BOS if the vocabulary asks for it
 * (tokenizer.ggml.add_bos_token; SPM defaults to yes). PARSE_SPECIAL: recognise control
 * tokens written in the text (on for rendered chat templates, off for what a user typed,
 * so typed "<|im_end|>" cannot forge a turn). Returns the number of tokens and sets *OUT
 * (malloc'd; caller frees), or -1 with ERR filled (invalid UTF-8 names the byte offset). */
int tokenizer_encode(const tokenizer *t, const char *text, size_t len, bool add_bos,
                     bool parse_special, int32_t **out, char *err, size_t errlen);

/* The bytes token ID stands for in text ("Ġthe" -> " the", "<0x0A>" -> "\n",
 * "▁the" -> " the"; control tokens -> their text). Writes up to CAP bytes (no NUL) and
 * returns the full length, or -1 for an invalid id. */
int tokenizer_piece(const tokenizer *t, int32_t id, char *buf, size_t cap);
/* The raw vocabulary string of ID (as stored in the file; NUL-terminated), or NULL. */
const char *tokenizer_token_text(const tokenizer *t, int32_t id);
/* Looks up an exact vocabulary string (e.g. "<|im_end|>"); -1 if absent. */
int32_t tokenizer_find(const tokenizer *t, const char *text);

int tokenizer_n_vocab(const tokenizer *t);
/* True when A and B give the same id to the same string for every token (the condition
 * for comparing two models' distributions token by token); else ERR says where they differ. */
bool tokenizer_same_vocabulary(const tokenizer *a, const tokenizer *b, char *err, size_t errlen);
/* A fingerprint of the vocabulary (FNV-1a 64 over the count and every token's string):
 * equal for tokenizers that tokenizer_same_vocabulary would accept. Saved conversations
 * carry it, so /load can tell a file made with another model. */
uint64_t tokenizer_vocabulary_hash(const tokenizer *t);
tokenizer_kind tokenizer_get_kind(const tokenizer *t);
const char *tokenizer_pre_name(const tokenizer *t); /* "smollm", "default", ... */
int32_t tokenizer_bos(const tokenizer *t);          /* -1 if none */
int32_t tokenizer_eos(const tokenizer *t);          /* -1 if none */
bool tokenizer_adds_bos(const tokenizer *t);
/* True for tokens that end a generation: EOS, EOT, <|im_end|>, <|eot_id|>, <end_of_turn>... */
bool tokenizer_is_eog(const tokenizer *t, int32_t id);
bool tokenizer_is_control(const tokenizer *t, int32_t id);

/* Streaming detokenisation: feed token pieces, get out only complete UTF-8 characters,
 * so a character split across tokens is never printed half. Invalid sequences come out
 * as U+FFFD. */
typedef struct utf8_stream {
    unsigned char pending[4];
    int n_pending;
} utf8_stream;
/* Appends the complete characters of (held bytes + IN) to OUT (capacity CAP, which must
 * be >= n + 4), returns the bytes written. (CAP = n + 4 fits every valid byte but not
 * three bytes of U+FFFD per bad byte: when the room runs short, an ill-formed sequence
 * comes out as a single '?' instead.) */
size_t utf8_stream_push(utf8_stream *s, const char *in, size_t n, char *out, size_t cap);
/* Flushes held bytes (as U+FFFD) at the end of a stream. */
size_t utf8_stream_finish(utf8_stream *s, char *out, size_t cap);
/* True if LEN bytes of S are valid UTF-8; else *BAD_AT (may be NULL) gets the offset. */
bool utf8_valid(const char *s, size_t len, size_t *bad_at);

#endif
