/* gguf.h — a bounds-checked, memory-mapped reader for GGUF files (versions 2 and 3).
 *
 * A model file is untrusted input: gguf_open() validates every length, count, offset and
 * dimension before anything else looks at it, and reports the first problem as one line
 * ("FILE: what is wrong (at byte N)"). After a successful open, every pointer handed out
 * points inside the mapping and every tensor's data range lies inside the file.
 * Strings returned here are NOT NUL-terminated (they point into the mapping); use the
 * length, or gguf_str_eq()/gguf_str_dup(). */
#ifndef LLMSCOPE_GGUF_H
#define LLMSCOPE_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gguf_value_type {
    GGUF_VT_UINT8 = 0, GGUF_VT_INT8 = 1, GGUF_VT_UINT16 = 2, GGUF_VT_INT16 = 3,
    GGUF_VT_UINT32 = 4, GGUF_VT_INT32 = 5, GGUF_VT_FLOAT32 = 6, GGUF_VT_BOOL = 7,
    GGUF_VT_STRING = 8, GGUF_VT_ARRAY = 9, GGUF_VT_UINT64 = 10, GGUF_VT_INT64 = 11,
    GGUF_VT_FLOAT64 = 12, GGUF_VT_COUNT
};

typedef struct gguf_str {
    const char *ptr; /* not NUL-terminated */
    uint64_t len;
} gguf_str;

typedef struct gguf_kv {
    gguf_str key;
    uint32_t type;          /* enum gguf_value_type */
    /* scalars (type != STRING/ARRAY): the value widened; read with gguf_kv_* helpers */
    union { uint64_t u; int64_t i; double f; } num;
    gguf_str str;           /* type == STRING */
    uint32_t arr_type;      /* type == ARRAY: element type */
    uint64_t arr_len;       /* type == ARRAY: element count */
    const uint8_t *arr_data;/* type == ARRAY: first element in the mapping */
    /* For arrays of strings, elements are not random-access in the file; the reader
     * indexes them once at open time so gguf_arr_str() is O(1). */
    const gguf_str *arr_strs;
} gguf_kv;

#define GGUF_MAX_DIMS 4

typedef struct gguf_tensor {
    gguf_str name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the innermost (contiguous) dimension; unused = 1 */
    uint32_t type;              /* enum ggml_type (see quant.h) */
    uint64_t offset;            /* relative to the start of the data section */
    uint64_t nbytes;            /* storage size computed from type and shape */
    const void *data;           /* inside the mapping, aligned to general.alignment */
} gguf_tensor;

typedef struct gguf_file {
    char *path;
    const uint8_t *map;
    uint64_t size;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;       /* start of the tensor data section */
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor *tensors;
    gguf_str *str_pool;         /* backing store of kv[].arr_strs */
    bool mapped;                /* map came from mmap (gguf_open), not the caller */
    /* Lookup indexes sorted by name, so that gguf_find()/gguf_find_tensor() stay O(log n)
     * on a file that claims millions of entries; NULL (e.g. a zeroed struct) means a
     * linear scan. */
    const gguf_kv **kv_by_key;
    const gguf_tensor **tensors_by_name;
} gguf_file;

/* Opens and validates PATH. Returns 0 on success; on failure fills ERR (one line) and
 * returns -1, leaving *F zeroed (nothing to close). Besides truncation and impossible
 * counts, sizes and offsets, it refuses duplicate keys or tensor names, overlapping or
 * misaligned tensors, nested arrays, unknown types, and a general.alignment that is not
 * a power of two >= 8 (the GGUF specification asks for a multiple of 8). */
int gguf_open(gguf_file *f, const char *path, char *err, size_t errlen);
/* Same over a caller-owned buffer (tests, fuzzing). The buffer must outlive F. */
int gguf_open_memory(gguf_file *f, const void *buf, uint64_t size, const char *name,
                     char *err, size_t errlen);
void gguf_close(gguf_file *f);

const gguf_kv *gguf_find(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters: return true and store the value when KEY exists with a compatible type
 * (any integer type for the integer getters, if the value fits; f32/f64 for floats). */
bool gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
bool gguf_get_u64(const gguf_file *f, const char *key, uint64_t *out);
bool gguf_get_i64(const gguf_file *f, const char *key, int64_t *out);
bool gguf_get_f32(const gguf_file *f, const char *key, float *out);
bool gguf_get_bool(const gguf_file *f, const char *key, bool *out);
bool gguf_get_str(const gguf_file *f, const char *key, gguf_str *out);
/* Array access: returns the kv if KEY is an array whose elements have type ELEM_TYPE. */
const gguf_kv *gguf_get_arr(const gguf_file *f, const char *key, uint32_t elem_type);
gguf_str gguf_arr_str(const gguf_kv *kv, uint64_t i);       /* kv must be an array of strings */
float gguf_arr_f32(const gguf_kv *kv, uint64_t i);          /* array of FLOAT32 */
int32_t gguf_arr_i32(const gguf_kv *kv, uint64_t i);        /* array of INT32 */
int64_t gguf_arr_int(const gguf_kv *kv, uint64_t i);        /* any integer element type */

bool gguf_str_eq(gguf_str s, const char *cstr);
char *gguf_str_dup(gguf_str s);   /* malloc'd, NUL-terminated; NULL on OOM */
const char *gguf_type_name(uint32_t value_type);

#endif
