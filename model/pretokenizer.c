/* pretokenizer.c — see pretokenizer.h.
 *
 * How a list of expressions splits text (llama.cpp's rule, which the test suites encode):
 * the text starts as one piece; each expression in turn is run over every piece on its
 * own, and every match and every stretch between matches becomes a piece. An expression
 * never sees past the edges of the piece it runs on, so a lookahead like \s+(?!\S)
 * stops at a boundary an earlier expression drew.
 *
 * The expressions are the ones Hugging Face tokenizers and llama.cpp use for each model
 * family, compiled with PCRE2 in UTF + UCP mode so \p{L}, \p{N}, \s ... are Unicode-aware.
 * Contractions are spelled (?:'[sS]|'[tT]|...) rather than (?i:'s|'t|...) as llama.cpp
 * does: Unicode case folding would also accept e.g. 'ſ (long s).
 * One known difference from the llama.cpp tables: PCRE2's \s still includes U+180E
 * (MONGOLIAN VOWEL SEPARATOR, whitespace before Unicode 6.3). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "pretokenizer.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EXPRS 6

/* GPT-2's own expression: contractions, letter runs, digit runs, other-symbol runs (each
 * optionally led by one space), and whitespace runs that leave their last space to the
 * word after them. Many families reuse it after a first, coarser split. */
#define RE_GPT2 "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define RE_CONTRACTIONS "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
/* Llama 3 / tiktoken style: a letter run may take one leading non-letter (not a newline),
 * numbers come in groups of DIGITS, newlines stick to the whitespace before them. */
#define RE_LLAMA3(DIGITS)                                                                  \
    RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" DIGITS                           \
                    "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
/* CJK ideographs and Hangul as DeepSeek's tokenizers write the ranges. */
#define RE_DEEPSEEK_CJK "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+"
/* Mistral Tekken / GPT-4o: case-aware words (an upper-case run then lower-case letters). */
#define RE_UPPER "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]"
#define RE_LOWER "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]"
#define RE_CASED_WORDS(SUFFIX)                                                             \
    "[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "*" RE_LOWER "+" SUFFIX                             \
    "|[^\\r\\n\\p{L}\\p{N}]?" RE_UPPER "+" RE_LOWER "*" SUFFIX
#define RE_BLOOM " ?[^(\\s|.,!?\\x{2026}\\x{3002}\\x{FF0C}\\x{3001}\\x{964}\\x{6D4}\\x{60C})]+"

typedef struct pre_family {
    const char *names; /* every tokenizer.ggml.pre value that means this family, space-separated */
    const char *exprs[MAX_EXPRS + 1];
    bool ignore_merges, wants_bos;
} pre_family;

static const pre_family FAMILIES[] = {
    {"default",
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", RE_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}, false, false},
    {"gpt-2 phi-2 mpt olmo jais trillion exaone4 granite-docling jina-es jina-de gigachat "
     "jina-v1-en jina-v2-es jina-v2-de jina-v2-code roberta-bpe a.x-4.0 mellum modern-bert",
     {RE_GPT2}, false, false},
    {"llama3 llama-v3 llama-bpe falcon3 falcon-h1 pixtral midm-2.0 lfm2",
     {RE_LLAMA3("{1,3}")}, true, true},
    {"dbrx smaug-bpe chatglm-bpe glm4", {RE_LLAMA3("{1,3}")}, false, false},
    {"qwen2 deepseek-r1-qwen megrez kormo stablelm2 hunyuan grok-2", {RE_LLAMA3("")}, false, false},
    {"starcoder refact command-r smollm codeshell exaone minerva-7b",
     {"\\p{N}", RE_GPT2}, false, false},
    {"falcon", {"[\\p{P}\\$\\+<=>\\^~\\|`]+", RE_GPT2, "[0-9][0-9][0-9]"}, false, false},
    {"deepseek-llm",
     {"[\\r\\n]",
      "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}"
      "\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}"
      "\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}\\x{3A3}-\\x{3F5}"
      "\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}"
      "\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}"
      "\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}"
      "\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}\\x{1F5D}"
      "\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}"
      "\\x{1FC6}-\\x{1FCC}\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}"
      "\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}\\x{210A}-\\x{2113}\\x{2115}"
      "\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}"
      "\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}"
      "\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}"
      "\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}"
      "\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}"
      "\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}"
      "\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}\\x{118A0}-\\x{118DF}"
      "\\x{1E900}-\\x{1E943}]+",
      "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
      "\\s+$", RE_DEEPSEEK_CJK, "\\p{N}+"},
     false, false},
    {"deepseek-coder",
     {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", RE_DEEPSEEK_CJK, "\\p{N}"}, false, false},
    {"deepseek-v3 hunyuan-dense",
     {"\\p{N}{1,3}", "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\p{L}\\p{P}\\p{S}]?"
      "[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     false, false},
    {"poro-chat bloom gpt3-finnish", {RE_BLOOM}, false, false},
    {"viking", {RE_BLOOM, "\\p{N}"}, false, false},
    {"tekken",
     {RE_CASED_WORDS("") "|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     true, true},
    {"gpt-4o llama4",
     {RE_CASED_WORDS(RE_CONTRACTIONS "?")
      "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     false, false},
    {"seed-coder",
     {RE_CONTRACTIONS "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+"
                      "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
     false, false},
};

struct pretokenizer {
    char name[64];
    const pre_family *family;
    pcre2_code *code[MAX_EXPRS];
    int n_code;
};

/* True if NAME is one of the space-separated words of LIST. */
static bool name_in_list(const char *name, const char *list) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ' ');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0) return true;
        if (!end) break;
        p = end + 1;
    }
    return false;
}

pretokenizer *pretokenizer_new(const char *name, char *err, size_t errlen) {
    const pre_family *fam = NULL;
    for (size_t i = 0; i < sizeof FAMILIES / sizeof FAMILIES[0] && !fam; i++)
        if (name_in_list(name, FAMILIES[i].names)) fam = &FAMILIES[i];
    if (!fam) {
        snprintf(err, errlen,
                 "unknown pre-tokenizer '%.48s' (tokenizer.ggml.pre): this build knows default, "
                 "gpt-2, llama-bpe, qwen2, smollm, deepseek-llm, deepseek-coder, falcon, "
                 "starcoder, mpt, refact and their aliases", name);
        return NULL;
    }
    pretokenizer *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory creating the pre-tokenizer");
        return NULL;
    }
    snprintf(p->name, sizeof p->name, "%s", name);
    p->family = fam;
    for (int i = 0; fam->exprs[i]; i++) {
        int code;
        PCRE2_SIZE at;
        /* DOLLAR_ENDONLY: "$" means the end of the piece, never "before a final \n". */
        p->code[i] = pcre2_compile((PCRE2_SPTR)fam->exprs[i], PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &code, &at, NULL);
        if (!p->code[i]) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(code, msg, sizeof msg);
            snprintf(err, errlen, "pre-tokenizer '%s': expression %d does not compile: %s "
                     "(at offset %zu)", name, i + 1, (const char *)msg, (size_t)at);
            pretokenizer_free(p);
            return NULL;
        }
        p->n_code = i + 1;
    }
    return p;
}

void pretokenizer_free(pretokenizer *p) {
    if (!p) return;
    for (int i = 0; i < p->n_code; i++) pcre2_code_free(p->code[i]);
    free(p);
}

const char *pretokenizer_name(const pretokenizer *p) { return p->name; }
bool pretokenizer_ignores_merges(const pretokenizer *p) { return p->family->ignore_merges; }
bool pretokenizer_wants_bos(const pretokenizer *p) { return p->family->wants_bos; }

typedef struct span_list {
    text_span *v;
    size_t n, cap;
} span_list;

static bool span_push(span_list *l, size_t off, size_t len) {
    if (len == 0) return true;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        text_span *v = realloc(l->v, cap * sizeof *v);
        if (!v) return false;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (text_span){off, len};
    return true;
}

/* Runs CODE over each piece of IN and appends matches and the gaps between them to OUT. */
static int split_pieces(const pcre2_code *code, pcre2_match_data *md, const char *text,
                        const span_list *in, span_list *out, char *err, size_t errlen) {
    for (size_t k = 0; k < in->n; k++) {
        const char *piece = text + in->v[k].off;
        size_t len = in->v[k].len, pos = 0, done = 0;
        while (pos < len) {
            int rc = pcre2_match(code, (PCRE2_SPTR)piece, len, pos, PCRE2_NO_UTF_CHECK, md, NULL);
            if (rc == PCRE2_ERROR_NOMATCH) break;
            if (rc < 0) {
                PCRE2_UCHAR msg[160];
                pcre2_get_error_message(rc, msg, sizeof msg);
                snprintf(err, errlen, "pre-tokenizer failed on the text: %s", (const char *)msg);
                return -1;
            }
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            size_t ms = ov[0], me = ov[1];
            if (me == ms) { /* an empty match splits nothing: step over one character */
                pos = ms + 1;
                while (pos < len && ((unsigned char)piece[pos] & 0xC0) == 0x80) pos++;
                continue;
            }
            if (!span_push(out, in->v[k].off + done, ms - done) ||
                !span_push(out, in->v[k].off + ms, me - ms))
                goto oom;
            done = pos = me;
        }
        if (!span_push(out, in->v[k].off + done, len - done)) goto oom;
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory while pre-tokenizing");
    return -1;
}

long pretokenizer_split(const pretokenizer *p, const char *text, size_t len, text_span **words,
                        char *err, size_t errlen) {
    span_list cur = {0}, next = {0};
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md || !span_push(&cur, 0, len)) {
        snprintf(err, errlen, "out of memory while pre-tokenizing");
        goto fail;
    }
    for (int i = 0; i < p->n_code; i++) {
        next.n = 0;
        if (split_pieces(p->code[i], md, text, &cur, &next, err, errlen)) goto fail;
        span_list t = cur;
        cur = next;
        next = t;
    }
    pcre2_match_data_free(md);
    free(next.v);
    *words = cur.v;
    return (long)cur.n;
fail:
    pcre2_match_data_free(md);
    free(cur.v);
    free(next.v);
    return -1;
}
