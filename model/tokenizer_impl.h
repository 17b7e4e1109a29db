/* tokenizer_impl.h — what tokenizer.c (loading, special tokens, the public API) shares
 * with the three encoders: tokenizer_spm.c, tokenizer_bpe.c and tokenizer_wpm.c.
 * Nothing outside model/tokenizer*.c includes this. */
#ifndef LLMSCOPE_TOKENIZER_IMPL_H
#define LLMSCOPE_TOKENIZER_IMPL_H

#include "pretokenizer.h"
#include "tokenizer.h"

/* tokenizer.ggml.token_type values (llama.cpp's llama_token_type). */
enum {
    TOKTYPE_UNDEFINED = 0, TOKTYPE_NORMAL = 1, TOKTYPE_UNKNOWN = 2, TOKTYPE_CONTROL = 3,
    TOKTYPE_USER_DEFINED = 4, TOKTYPE_UNUSED = 5, TOKTYPE_BYTE = 6, TOKTYPE_COUNT
};

#define TOKENIZER_MAX_EOG 16

/* An open-addressing hash table of int32 values (token ids or merge ranks); the keys are
 * strings the owner keeps elsewhere, so a slot stores only value + 1 (0 = empty). */
typedef struct str_table {
    uint32_t *slots;
    uint32_t mask;
} str_table;

struct tokenizer {
    tokenizer_kind kind;
    int32_t n_vocab;

    /* Token strings, copied NUL-terminated into one block (the file's are not). */
    char *text;
    uint32_t *text_off, *text_len;
    /* What each token stands for in output text, decoded once at load time. */
    char *piece;
    uint32_t *piece_off, *piece_len;
    float *scores;          /* SPM merge priorities; all 0 when the file has none */
    uint8_t *type;          /* TOKTYPE_* */
    str_table by_text;      /* token string -> id */

    /* BPE merges: "left right" strings from the file, and "left right" -> rank. */
    const gguf_str *merges;
    uint32_t n_merges;
    str_table merge_rank;

    /* Tokens split out of the text before the model's own algorithm runs (control,
     * user-defined and unknown tokens), longest first. */
    int32_t *specials;
    int32_t n_specials;

    int32_t byte_token[256]; /* SPM byte fallback: the <0xNN> tokens, -1 where missing */
    bool has_byte_tokens;

    int32_t bos, eos, unk, eot, eom, sep;
    int32_t eog[TOKENIZER_MAX_EOG];
    int n_eog;
    bool add_bos, add_space_prefix;

    pretokenizer *pre;       /* BPE only */
    char pre_name[64];

    /* WPM: word-initial pieces carry "▁" in GGUF files converted by llama.cpp; files that
     * kept BERT's own convention mark continuations with "##" instead. */
    const char *wpm_word_prefix, *wpm_cont_prefix;
    uint32_t max_token_len;
};

/* A growable list of token ids. */
typedef struct id_list {
    int32_t *v;
    size_t n, cap;
} id_list;

bool id_list_push(id_list *l, int32_t id);

/* Token id of the LEN bytes at S, or -1. */
int32_t tok_lookup(const tokenizer *t, const char *s, size_t len);
/* Merge rank of the pair (LEFT, RIGHT), or -1. */
int32_t tok_merge_rank(const tokenizer *t, const char *left, size_t left_len, const char *right,
                       size_t right_len);

/* The merge loop SentencePiece and BPE share: TEXT starts as one symbol per UTF-8
 * character, and the adjacent pair with the lowest key (then the leftmost) is merged,
 * again and again, until no adjacent pair has a key. PAIR_KEY says whether the pair of
 * byte ranges may merge and with what key (BPE: merge rank; SPM: minus the score of the
 * merged token). */
typedef struct merge_symbol {
    uint32_t off, len;   /* bytes of the text; len 0 once merged into its left neighbour */
    int32_t prev, next;  /* neighbours in the chain, -1 at the ends */
} merge_symbol;

typedef struct merge_bigram {
    double key;
    int32_t left, right;
    uint32_t len;        /* left.len + right.len when queued: a stale entry no longer matches */
} merge_bigram;

/* Scratch space reused across calls within one encode. */
typedef struct merge_work {
    merge_symbol *sym;
    size_t n_sym, cap_sym;
    merge_bigram *heap;
    size_t n_heap, cap_heap;
} merge_work;

typedef bool (*merge_key_fn)(const tokenizer *t, const char *text, const merge_symbol *left,
                             const merge_symbol *right, double *key);

/* Runs the merge loop over LEN bytes of TEXT; afterwards W->sym[0], following .next,
 * holds the final symbols. Returns false when out of memory. */
bool merge_run(const tokenizer *t, const char *text, size_t len, merge_key_fn pair_key,
               merge_work *w);
void merge_work_free(merge_work *w);

/* The encoders: each appends the ids for LEN bytes of valid UTF-8 (a stretch of text with
 * no special tokens in it) to OUT; they return 0, or -1 with ERR filled. AT_START tells
 * SPM that no text precedes this stretch (or only a special token does), which is where
 * SentencePiece puts its leading space. */
int spm_encode(const tokenizer *t, const char *text, size_t len, bool at_start, id_list *out,
               char *err, size_t errlen);
int bpe_encode(const tokenizer *t, const char *text, size_t len, id_list *out, char *err,
               size_t errlen);
int wpm_encode(const tokenizer *t, const char *text, size_t len, id_list *out, char *err,
               size_t errlen);

/* The GPT-2 byte <-> printable-character mapping of byte-level BPE. */
uint32_t bpe_byte_to_cp(unsigned char b);
/* The byte that code point CP stands for, or -1 if CP is not one of the 256. */
int bpe_cp_to_byte(uint32_t cp);

#endif
