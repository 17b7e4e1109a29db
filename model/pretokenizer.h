/* pretokenizer.h — the regex pre-splitting of byte-level BPE vocabularies.
 *
 * A byte-level BPE model never merges across the boundaries its pre-tokenizer draws
 * (between words, digits, punctuation runs, whitespace runs), so tokenizing text the way
 * the model was trained needs the same splitting. GGUF files name it in
 * tokenizer.ggml.pre ("gpt-2", "llama-bpe", "qwen2", "smollm", ...); each name stands
 * for a list of regular expressions that llama.cpp applies one after another. */
#ifndef LLMSCOPE_PRETOKENIZER_H
#define LLMSCOPE_PRETOKENIZER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pretokenizer pretokenizer;

/* A piece of the input: LEN bytes starting at OFF. */
typedef struct text_span {
    size_t off, len;
} text_span;

/* Compiles the expressions that NAME stands for. An unknown name is an error naming it
 * (guessing would silently produce token ids the model was never trained on). */
pretokenizer *pretokenizer_new(const char *name, char *err, size_t errlen);
void pretokenizer_free(pretokenizer *p);

/* The name this pre-tokenizer was created under. */
const char *pretokenizer_name(const pretokenizer *p);
/* Llama 3 style vocabularies skip merging when a whole word is already a token. */
bool pretokenizer_ignores_merges(const pretokenizer *p);
/* Llama 3 style vocabularies start every sequence with BOS even when the file is silent. */
bool pretokenizer_wants_bos(const pretokenizer *p);

/* Splits LEN bytes of valid UTF-8 into consecutive words covering all of TEXT. Sets
 * *WORDS (malloc'd; caller frees) and returns the count, or -1 with ERR filled. */
long pretokenizer_split(const pretokenizer *p, const char *text, size_t len, text_span **words,
                        char *err, size_t errlen);

#endif
