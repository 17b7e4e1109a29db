/* model_meta.c — a file's metadata read through its architecture's description (arch.h):
 * the numbers every layer shares, then each layer's recipe (its attention shape, window,
 * rope, whose keys it reads, its scale and cap, its feed-forward width), then the ropes.
 *
 * Keys are "{arch}.name" as llama.cpp's converters write them. Everything is untrusted:
 * every integer is range-checked, every float must be finite and positive, every
 * per-layer array must have one entry per layer, and the first problem is one error line. */
#include "model_loader.h"

#include "quant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *key_of(loader *L, char *key, size_t cap, const char *suffix) {
    snprintf(key, cap, "%s.%s", L->m->hp.arch_name, suffix);
    return key;
}

/* Checks one integer V of key KEY against [LO, HI]. */
static int in_range(loader *L, const char *key, int64_t v, int lo, int hi) {
    if (v < lo || v > hi)
        return loader_fail(L, "metadata '%s' = %lld is out of range [%d, %d]", key, (long long)v, lo, hi);
    return 0;
}

/* Reads the integer "{arch}.SUFFIX" into *OUT. Absent: *OUT = DEF, or an error when
 * REQUIRED. Present: must be an integer in [LO, HI]. */
static int hp_int(loader *L, const char *suffix, bool required, int def, int lo, int hi, int *out) {
    char key[160];
    const gguf_kv *kv = gguf_find(L->f, key_of(L, key, sizeof key, suffix));
    if (!kv) {
        if (required) return loader_fail(L, "missing metadata key '%s'", key);
        *out = def;
        return 0;
    }
    int64_t v;
    if (!gguf_get_i64(L->f, key, &v))
        return loader_fail(L, "metadata '%s' has type %s, expected an integer", key, gguf_type_name(kv->type));
    if (in_range(L, key, v, lo, hi)) return -1;
    *out = (int)v;
    return 0;
}

/* Reads "{arch}.SUFFIX" as one integer per layer into OUT[n_layer]: a scalar stands for
 * every layer (most files); an array (Gemma 4's feed_forward_length) must have one entry
 * per layer. */
static int hp_int_layers(loader *L, const char *suffix, bool required, int def, int lo, int hi, int *out) {
    const int n = L->m->hp.n_layer;
    char key[160];
    const gguf_kv *kv = gguf_find(L->f, key_of(L, key, sizeof key, suffix));
    if (!kv || kv->type != GGUF_VT_ARRAY) {
        int v;
        if (hp_int(L, suffix, required, def, lo, hi, &v)) return -1;
        for (int i = 0; i < n; i++) out[i] = v;
        return 0;
    }
    /* one entry per block, multi-token-prediction blocks included, is one per layer too */
    if (kv->arr_len != (uint64_t)n && kv->arr_len != (uint64_t)(n + L->m->hp.n_layer_nextn))
        return loader_fail(L, "metadata '%s' has %llu entries for %d layers", key,
                           (unsigned long long)kv->arr_len, n);
    if (kv->arr_type == GGUF_VT_BOOL || kv->arr_type == GGUF_VT_STRING || kv->arr_type == GGUF_VT_FLOAT32 ||
        kv->arr_type == GGUF_VT_FLOAT64)
        return loader_fail(L, "metadata '%s' is an array of %s, expected integers", key, gguf_type_name(kv->arr_type));
    for (int i = 0; i < n; i++) {
        if (in_range(L, key, gguf_arr_int(kv, (uint64_t)i), lo, hi)) return -1;
        out[i] = (int)gguf_arr_int(kv, (uint64_t)i);
    }
    return 0;
}

/* Reads the float "{arch}.SUFFIX" (DEF when absent); must be finite and > 0. */
static int hp_float(loader *L, const char *suffix, float def, float *out) {
    char key[160];
    const gguf_kv *kv = gguf_find(L->f, key_of(L, key, sizeof key, suffix));
    if (!kv) {
        *out = def;
        return 0;
    }
    float v;
    if (!gguf_get_f32(L->f, key, &v))
        return loader_fail(L, "metadata '%s' has type %s, expected a float", key, gguf_type_name(kv->type));
    if (!isfinite(v) || v <= 0) return loader_fail(L, "metadata '%s' = %g must be positive", key, v);
    *out = v;
    return 0;
}

/* --- the architecture ------------------------------------------------------------------ */

/* Families whose files exist (../shared has some) that llmscope has not built yet, NULL
 * last (none at present: every family of ../shared is built). */
static const char *const PLANNED_ARCHS[] = {NULL};

const char *model_file_unimplemented(const gguf_file *f, char *buf, size_t cap) {
    gguf_str s;
    if (!gguf_get_str(f, "general.architecture", &s)) return NULL;
    if (!arch_find(s.ptr, (size_t)s.len)) {
        for (size_t i = 0; PLANNED_ARCHS[i]; i++)
            if (gguf_str_eq(s, PLANNED_ARCHS[i])) {
                snprintf(buf, cap, "%s not implemented yet", PLANNED_ARCHS[i]);
                return buf;
            }
        return NULL;
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        uint32_t t = f->tensors[i].type;
        if (!ggml_type_supported(t) && ggml_block_elems(t) > 0) {
            snprintf(buf, cap, "type %s not implemented yet", ggml_type_name(t));
            return buf;
        }
    }
    return NULL;
}

int loader_read_arch(loader *L) {
    model_hparams *hp = &L->m->hp;
    gguf_str s;
    if (!gguf_get_str(L->f, "general.architecture", &s))
        return loader_fail(L, "missing metadata key 'general.architecture' (not a model file?)");
    hp->arch = arch_find(s.ptr, (size_t)s.len);
    if (!hp->arch) {
        char buf[48], list[256];
        arch_list(list, sizeof list);
        return loader_fail(L, "unsupported architecture '%s' (supported: %s)", loader_printable(s, buf, sizeof buf),
                           list);
    }
    snprintf(hp->arch_name, sizeof hp->arch_name, "%s", hp->arch->name);
    return 0;
}

/* --- the numbers every layer shares --------------------------------------------------- */

/* Multi-token-prediction blocks (Qwen3.5, GLM-4.5): block_count counts them, and their
 * tensors (blk.N.nextn.*, with attention and FFN tensors of their own) follow the last
 * layer's. They predict a second token for speculative decoding, which llmscope does not
 * do, so they are left out deliberately: n_layer is block_count less them. */
static int read_nextn(loader *L) {
    model_hparams *hp = &L->m->hp;
    if (hp_int(L, "nextn_predict_layers", false, 0, 0, hp->n_layer - 1, &hp->n_layer_nextn)) return -1;
    hp->n_layer -= hp->n_layer_nextn;
    return 0;
}

static int read_shared(loader *L) {
    model_hparams *hp = &L->m->hp;
    const arch_desc *a = hp->arch;
    if (hp_int(L, "embedding_length", true, 0, 1, MAX_EMBD, &hp->n_embd) ||
        hp_int(L, "block_count", true, 0, 1, MAX_LAYER, &hp->n_layer) ||
        hp_int(L, "context_length", true, 0, 1, MAX_CTX, &hp->n_ctx_train) || read_nextn(L))
        return -1;
    hp->norm = a->norm;
    hp->act = a->act;
    hp->glu = !(a->traits & AT_NO_GATE);
    const char *eps_key = a->norm == NORM_RMS ? "attention.layer_norm_rms_epsilon" : "attention.layer_norm_epsilon";
    if (hp_float(L, eps_key, 1e-5f, &hp->norm_eps)) return -1;
    if (hp->norm_eps >= 1.0f) return loader_fail(L, "norm epsilon %g is not below 1", hp->norm_eps);
    /* Gemma scales the embeddings by sqrt(n_embd), computed in f32 as llama.cpp does */
    hp->embed_scale = a->traits & AT_EMBED_SCALE ? sqrtf((float)hp->n_embd) : 1.0f;
    if (hp_float(L, "final_logit_softcapping", 0.0f, &hp->final_softcap)) return -1;
    if (a->traits & AT_PER_LAYER_IN &&
        hp_int(L, "embedding_length_per_layer_input", true, 0, 1, MAX_EMBD, &hp->n_embd_per_layer))
        return -1;
    return 0;
}

/* --- each layer's recipe ------------------------------------------------------------- */

/* Which layers slide, by the architecture's rule. Returns the window (0: none). */
static int read_sliding(loader *L, bool *slides) {
    const model_hparams *hp = &L->m->hp;
    const arch_desc *a = hp->arch;
    const int n = hp->n_layer;
    memset(slides, 0, (size_t)n * sizeof *slides);
    if (a->swa == SWA_NONE) return 0;
    char key[160];
    int window = 0;
    bool has = gguf_find(L->f, key_of(L, key, sizeof key, "attention.sliding_window")) != NULL;
    if (!has && a->swa == SWA_ALL) return 0; /* Phi-3: the window is optional */
    if (hp_int(L, "attention.sliding_window", true, 0, 1, MAX_CTX, &window)) return -1;
    if (a->swa == SWA_PATTERN_KEY) {
        const gguf_kv *kv = gguf_find(L->f, key_of(L, key, sizeof key, "attention.sliding_window_pattern"));
        if (!kv) return loader_fail(L, "missing metadata key '%s'", key);
        if (kv->type != GGUF_VT_ARRAY || kv->arr_type != GGUF_VT_BOOL)
            return loader_fail(L, "metadata '%s' must be an array of booleans", key);
        if (kv->arr_len != (uint64_t)n)
            return loader_fail(L, "metadata '%s' has %llu entries for %d layers", key,
                               (unsigned long long)kv->arr_len, n);
        for (int i = 0; i < n; i++) slides[i] = kv->arr_data[i] != 0;
        return window;
    }
    for (int i = 0; i < n; i++)
        slides[i] = a->swa == SWA_ALL || (a->swa == SWA_EVEN && i % 2 == 0) ||
                    (a->swa == SWA_PERIOD && (i + 1) % a->swa_period != 0);
    return window;
}

/* Head dimensions: key_length (default n_embd / n_head) for global layers, and
 * key_length_swa for sliding ones where the file has it; values must match keys. */
static int read_head_dims(loader *L, const bool *slides, const int *n_head, int *head_dim) {
    const model_hparams *hp = &L->m->hp;
    char key[160];
    bool has_key_length = gguf_find(L->f, key_of(L, key, sizeof key, "attention.key_length")) != NULL;
    if (!has_key_length && hp->n_embd % n_head[0])
        return loader_fail(L, "embedding_length %d is not a multiple of head_count %d", hp->n_embd, n_head[0]);
    int global, value, local, local_value;
    if (hp_int(L, "attention.key_length", false, hp->n_embd / n_head[0], 1, MAX_HEAD_DIM, &global) ||
        hp_int(L, "attention.value_length", false, global, 1, MAX_HEAD_DIM, &value) ||
        hp_int(L, "attention.key_length_swa", false, global, 1, MAX_HEAD_DIM, &local) ||
        hp_int(L, "attention.value_length_swa", false, local, 1, MAX_HEAD_DIM, &local_value))
        return -1;
    if (value != global || local_value != local)
        return loader_fail(L, "attention.value_length %d differs from key_length %d (unsupported)",
                           value != global ? value : local_value, value != global ? global : local);
    for (int i = 0; i < hp->n_layer; i++) head_dim[i] = slides[i] ? local : global;
    return 0;
}

/* KV sharing (Gemma 4): the last N layers compute no keys or values and read those of the
 * last earlier layer of their own kind (sliding or global). */
static int read_kv_sharing(loader *L, const bool *slides, layer_desc *d) {
    const model_hparams *hp = &L->m->hp;
    int shared = 0;
    for (int i = 0; i < hp->n_layer; i++) d[i].kv_layer = i;
    if (!(hp->arch->traits & AT_KV_SHARING) ||
        hp_int(L, "attention.shared_kv_layers", false, 0, 0, hp->n_layer - 1, &shared))
        return hp->arch->traits & AT_KV_SHARING ? -1 : 0;
    const int first = hp->n_layer - shared;
    for (int i = first; i < hp->n_layer; i++) {
        int src = first - 1;
        while (src >= 0 && slides[src] != slides[i]) src--;
        if (src < 0)
            return loader_fail(L, "layer %d shares the keys of an earlier %s layer, and there is none", i,
                               slides[i] ? "sliding-window" : "global");
        if (d[src].head_dim != d[i].head_dim || d[src].n_head_kv != d[i].n_head_kv)
            return loader_fail(L, "layer %d shares the keys of layer %d, whose heads differ", i, src);
        d[i].kv_layer = src;
    }
    return 0;
}

static float query_scale(const model_hparams *hp, int head_dim, int n_head) {
    switch (hp->arch->qscale) {
    case QSCALE_ONE: return 1.0f;
    case QSCALE_GEMMA:
        if (hp->n_layer == hp->arch->wide_scale_layers) return 1.0f / sqrtf((float)(hp->n_embd / n_head));
        return 1.0f / sqrtf((float)head_dim);
    case QSCALE_HEAD_DIM: break;
    }
    return 1.0f / sqrtf((float)head_dim);
}

/* --- mixtures of experts ---------------------------------------------------------------- */

/* The experts every MoE layer has (AT_MOE): how many, how many the router picks, one
 * expert's width, and the shared expert's (AT_SHARED_EXPERT), which is the layer's dense
 * width N_FF (0 without one). A MoE file's feed_forward_length, where present, describes
 * no network the layers run, and is not read. */
static int read_experts(loader *L, int *n_ff) {
    model_hparams *hp = &L->m->hp;
    const arch_desc *a = hp->arch;
    moe_hparams *moe = &hp->moe;
    int shared = 0;
    if (hp_int(L, "expert_count", true, 0, 1, MAX_EXPERT, &moe->n_expert) ||
        hp_int(L, "expert_used_count", true, 0, 1, moe->n_expert < MAX_EXPERT_USED ? moe->n_expert : MAX_EXPERT_USED,
               &moe->n_used) ||
        hp_int(L, "expert_feed_forward_length", true, 0, 1, MAX_FF, &moe->n_ff_exp) ||
        (a->traits & AT_SHARED_EXPERT && hp_int(L, "expert_shared_feed_forward_length", true, 0, 1, MAX_FF, &shared)))
        return -1;
    moe->routing = a->routing;
    moe->norm = a->moe_norm;
    for (int i = 0; i < hp->n_layer; i++) n_ff[i] = shared;
    return 0;
}

static int read_layers(loader *L, bool *slides, int *ints) {
    model *m = L->m;
    model_hparams *hp = &m->hp;
    const int n = hp->n_layer;
    int *n_head = ints, *n_head_kv = ints + n, *n_ff = ints + 2 * n, *head_dim = ints + 3 * n;
    if (hp_int_layers(L, "attention.head_count", true, 0, 1, MAX_HEAD, n_head) ||
        (hp->arch->traits & AT_MOE ? read_experts(L, n_ff)
                                   : hp_int_layers(L, "feed_forward_length", true, 0, 1, MAX_FF, n_ff)))
        return -1;
    for (int i = 0; i < n; i++)
        if (n_head[i] != n_head[0])
            return loader_fail(L, "layer %d has %d query heads and layer 0 %d (unsupported)", i, n_head[i], n_head[0]);
    if (hp_int_layers(L, "attention.head_count_kv", false, n_head[0], 1, n_head[0], n_head_kv)) return -1;
    for (int i = 0; i < n; i++)
        if (n_head[i] % n_head_kv[i])
            return loader_fail(L, "head_count %d is not a multiple of head_count_kv %d", n_head[i], n_head_kv[i]);
    int window = read_sliding(L, slides);
    if (window < 0 || read_head_dims(L, slides, n_head, head_dim)) return -1;
    float attn_cap;
    if (hp_float(L, "attn_logit_softcapping", 0.0f, &attn_cap)) return -1;
    hp->n_head = n_head[0];
    for (int i = 0; i < n; i++) {
        layer_desc *d = &m->desc[i];
        d->mixer = MIXER_ATTENTION;
        d->n_head = n_head[i];
        d->n_head_kv = n_head_kv[i];
        d->head_dim = head_dim[i];
        d->n_ff = n_ff[i];
        d->ffn = hp->moe.n_expert ? FFN_MOE : FFN_DENSE;
        d->window = slides[i] ? window : 0;
        d->attn_scale = query_scale(hp, head_dim[i], n_head[i]);
        d->attn_softcap = attn_cap;
        d->out_gate = hp->arch->traits & AT_ATTN_GATE;
        d->head_dim_v = head_dim[i];
        if (d->n_head_kv > hp->n_head_kv) hp->n_head_kv = d->n_head_kv;
        if (d->head_dim > hp->head_dim) hp->head_dim = d->head_dim;
        if (d->n_ff > hp->n_ff) hp->n_ff = d->n_ff;
    }
    return read_kv_sharing(L, slides, m->desc);
}

/* --- ropes ----------------------------------------------------------------------------- */

/* YaRN (rope.scaling.type yarn: gpt-oss, Ministral 3): the angles blend interpolated and
 * extrapolated by pair (rope_cos_sin), between the pairs that turn beta_fast and beta_slow
 * times over the original context; llama.cpp's defaults where the file is silent: the
 * blend fully on (yarn_ext_factor 1), beta_fast 32, beta_slow 1, yarn_attn_factor 1 (which
 * multiplies rope.scaling.attn_factor, as llama.cpp multiplies them). A
 * yarn_log_multiplier divides the magnitude correction by its own (Ministral 3: their
 * ratio). */
static int read_yarn(loader *L, rope_desc *r, float factor) {
    float log_mul = 0, yarn_attn;
    if (hp_float(L, "rope.scaling.yarn_ext_factor", 1.0f, &r->ext_factor) ||
        hp_float(L, "rope.scaling.yarn_beta_fast", 32.0f, &r->beta_fast) ||
        hp_float(L, "rope.scaling.yarn_beta_slow", 1.0f, &r->beta_slow) ||
        hp_float(L, "rope.scaling.yarn_attn_factor", 1.0f, &yarn_attn) ||
        hp_float(L, "rope.scaling.yarn_log_multiplier", 1.0f, &log_mul))
        return -1;
    r->attn_factor *= yarn_attn;
    if (factor > 1.0f && log_mul != 1.0f)
        r->attn_factor *= (0.1f * logf(factor) + 1.0f) / (0.1f * log_mul * logf(factor) + 1.0f);
    return 0;
}

/* The global rope's scaling: linear ("{arch}.rope.scaling.type"/".factor", or the older
 * ".rope.scale_linear") or YaRN, LongRoPE's magnitude factor and the original context. */
static int read_rope_scaling(loader *L, rope_desc *r) {
    model_hparams *hp = &L->m->hp;
    char key[160];
    float factor = 1.0f;
    gguf_str type;
    bool has_type = gguf_get_str(L->f, key_of(L, key, sizeof key, "rope.scaling.type"), &type);
    bool yarn = has_type && gguf_str_eq(type, "yarn");
    if (has_type && !yarn && !gguf_str_eq(type, "none") && !gguf_str_eq(type, "linear")) {
        char buf[48];
        return loader_fail(L, "unsupported rope scaling type '%s' (supported: none, linear, yarn)",
                           loader_printable(type, buf, sizeof buf));
    }
    if (!has_type || yarn || gguf_str_eq(type, "linear")) {
        if (hp_float(L, "rope.scaling.factor", 1.0f, &factor)) return -1;
        if (!yarn && factor == 1.0f && hp_float(L, "rope.scale_linear", 1.0f, &factor)) return -1;
    }
    r->freq_scale = 1.0f / factor;
    if (hp_float(L, "rope.scaling.attn_factor", 1.0f, &r->attn_factor) ||
        hp_int(L, "rope.scaling.original_context_length", false, hp->n_ctx_train, 1, MAX_CTX, &r->orig_ctx))
        return -1;
    return yarn ? read_yarn(L, r, factor) : 0;
}

/* The attention temperature (AT_ATTN_TEMP): attention.temperature_scale (llama.cpp's
 * default 0.1 when absent), growing in steps of the original context. */
static int read_attn_temp(loader *L) {
    model *m = L->m;
    if (!(m->hp.arch->traits & AT_ATTN_TEMP)) return 0;
    float temp;
    if (hp_float(L, "attention.temperature_scale", 0.1f, &temp)) return -1;
    const int floor_scale = m->n_ropes ? m->ropes[0].orig_ctx : m->hp.n_ctx_train;
    for (int i = 0; i < m->hp.n_layer; i++) {
        m->desc[i].attn_temp = temp;
        m->desc[i].attn_temp_floor = floor_scale;
    }
    return 0;
}

/* Checks that rope R fits every layer that uses it (index IDX). */
static int check_rope_fits(loader *L, const rope_desc *r, int idx) {
    const model *m = L->m;
    if (r->dim % 2) return loader_fail(L, "rope.dimension_count %d is odd", r->dim);
    for (int i = 0; i < m->hp.n_layer; i++)
        if (m->desc[i].rope == idx && r->dim > m->desc[i].head_dim)
            return loader_fail(L, "rope.dimension_count %d exceeds layer %d's head dimension %d", r->dim, i,
                               m->desc[i].head_dim);
    return 0;
}

/* The global rope, and the sliding layers' own when they have one (Gemma 3's base 10000
 * without scaling; Gemma 4's rope.freq_base_swa and rope.dimension_count_swa). */
static int read_ropes(loader *L, const bool *slides) {
    model *m = L->m;
    const model_hparams *hp = &m->hp;
    const arch_desc *a = hp->arch;
    rope_desc *g = &m->ropes[0];
    m->n_ropes = 0;
    for (int i = 0; i < hp->n_layer; i++) m->desc[i].rope = -1;
    if (a->rope == ROPE_NONE) return 0;
    int global_dim = hp->head_dim, local_dim = hp->head_dim;
    for (int i = 0; i < hp->n_layer; i++) {
        if (slides[i]) local_dim = m->desc[i].head_dim;
        else global_dim = m->desc[i].head_dim;
    }
    *g = (rope_desc){.kind = a->rope, .base = 10000.0f, .freq_scale = 1.0f, .attn_factor = 1.0f};
    if (hp_float(L, "rope.freq_base", 10000.0f, &g->base) ||
        hp_int(L, "rope.dimension_count", false, global_dim, 2, MAX_HEAD_DIM, &g->dim) || read_rope_scaling(L, g))
        return -1;
    m->n_ropes = 1;
    char key[160];
    bool any_slides = false, own_local = a->local_rope_base > 0 || a->local_rope_unscaled ||
                                         gguf_find(L->f, key_of(L, key, sizeof key, "rope.freq_base_swa")) ||
                                         gguf_find(L->f, key_of(L, key, sizeof key, "rope.dimension_count_swa"));
    for (int i = 0; i < hp->n_layer; i++) any_slides |= slides[i];
    if (any_slides && own_local) {
        rope_desc *l = &m->ropes[1];
        *l = (rope_desc){.kind = a->rope, .freq_scale = a->local_rope_unscaled ? 1.0f : g->freq_scale,
                         .attn_factor = 1.0f, .orig_ctx = g->orig_ctx};
        if (hp_float(L, "rope.freq_base_swa", a->local_rope_base > 0 ? a->local_rope_base : g->base, &l->base) ||
            hp_int(L, "rope.dimension_count_swa", false, local_dim, 2, MAX_HEAD_DIM, &l->dim))
            return -1;
        m->n_ropes = 2;
    }
    for (int i = 0; i < hp->n_layer; i++) {
        bool nope = a->no_rope_every > 0 && (i + 1) % a->no_rope_every == 0;
        m->desc[i].rope = nope ? -1 : slides[i] && m->n_ropes == 2 ? 1 : 0;
    }
    for (int r = 0; r < m->n_ropes; r++)
        if (check_rope_fits(L, &m->ropes[r], r)) return -1;
    return 0;
}

/* --- Gated DeltaNet layers -------------------------------------------------------------- */

/* Qwen3.5: every full_attention_interval-th layer (l + 1 a multiple of it) is a gated
 * attention layer, the others Gated DeltaNet layers whose shape comes from the ssm.* keys:
 * state_size is a key head's size, group_count the key heads, time_step_rank the value
 * heads (one decay rate each), inner_size all value heads together, conv_kernel the taps
 * of the convolution. Their rope, window and scale do not apply. */
static int read_deltanet(loader *L) {
    model *m = L->m;
    model_hparams *hp = &m->hp;
    if (!(hp->arch->traits & AT_DELTANET)) return 0;
    int interval, d_k, n_k, n_v, inner, taps;
    if (hp_int(L, "full_attention_interval", false, 4, 1, MAX_LAYER, &interval) ||
        hp_int(L, "ssm.state_size", true, 0, 1, MAX_HEAD_DIM, &d_k) ||
        hp_int(L, "ssm.group_count", true, 0, 1, MAX_HEAD, &n_k) ||
        hp_int(L, "ssm.time_step_rank", true, 0, 1, MAX_HEAD, &n_v) ||
        hp_int(L, "ssm.inner_size", true, 0, 1, MAX_HEAD * MAX_HEAD_DIM, &inner) ||
        hp_int(L, "ssm.conv_kernel", true, 0, 1, 16, &taps))
        return -1;
    if (n_v % n_k)
        return loader_fail(L, "ssm.time_step_rank %d (value heads) is not a multiple of ssm.group_count %d (key heads)",
                           n_v, n_k);
    if (inner % n_v || inner / n_v > MAX_HEAD_DIM)
        return loader_fail(L, "ssm.inner_size %d does not split into %d value heads of at most %d", inner, n_v,
                           MAX_HEAD_DIM);
    hp->n_deltanet = 0;
    for (int i = 0; i < hp->n_layer; i++) {
        if ((i + 1) % interval == 0) continue;
        layer_desc *d = &m->desc[i];
        *d = (layer_desc){.mixer = MIXER_DELTANET, .n_head = n_v, .n_head_kv = n_k, .head_dim = d_k,
                          .head_dim_v = inner / n_v, .conv_kernel = taps, .kv_layer = i, .rope = -1,
                          .n_ff = d->n_ff, .ffn = d->ffn};
        hp->n_deltanet++;
        if (n_v > hp->n_head) hp->n_head = n_v;
        if (n_k > hp->n_head_kv) hp->n_head_kv = n_k;
    }
    return 0;
}

int loader_read_meta(loader *L) {
    model *m = L->m;
    if (read_shared(L)) return -1;
    const int n = m->hp.n_layer;
    m->desc = calloc((size_t)n, sizeof *m->desc);
    bool *slides = calloc((size_t)n, sizeof *slides);
    int *ints = calloc((size_t)n * 4, sizeof *ints);
    int rc = !m->desc || !slides || !ints ? loader_fail(L, "out of memory")
                                          : read_layers(L, slides, ints) || read_ropes(L, slides) ||
                                                read_deltanet(L) || read_attn_temp(L);
    free(slides);
    free(ints);
    return rc ? -1 : 0;
}
