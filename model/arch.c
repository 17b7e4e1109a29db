/* arch.c — the architecture table and the tensors each architecture's files hold (see
 * arch.h), and the rope every engine computes from a rope_desc. */
#include "arch.h"
#include "model.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* One row per architecture. Everything an engine needs to know about a family that the
 * file does not say in its metadata is here. */
static const arch_desc ARCHS[] = {
    {.name = "llama", .norm = NORM_RMS, .act = ACT_SILU, .rope = ROPE_NORM},
    {.name = "qwen2", .norm = NORM_RMS, .act = ACT_SILU, .rope = ROPE_NEOX, .traits = AT_QKV_BIAS},
    {.name = "qwen3", .norm = NORM_RMS, .act = ACT_SILU, .rope = ROPE_NEOX, .traits = AT_QK_NORM},
    {.name = "gpt2", .norm = NORM_LAYER, .act = ACT_GELU_TANH, .rope = ROPE_NONE,
     .traits = AT_NORM_BIAS | AT_ALL_BIASES | AT_FUSED_QKV | AT_NO_GATE | AT_LEARNED_POS},
    /* Gemma 2: sliding windows on even layers, soft-capped scores and logits (their keys) */
    {.name = "gemma2", .norm = NORM_RMS, .act = ACT_GELU_TANH, .rope = ROPE_NEOX,
     .traits = AT_SANDWICH | AT_EMBED_SCALE, .swa = SWA_EVEN, .qscale = QSCALE_GEMMA, .wide_scale_layers = 46},
    /* Gemma 3: five local layers to one global; local layers rotate with base 10000 unscaled */
    {.name = "gemma3", .norm = NORM_RMS, .act = ACT_GELU_TANH, .rope = ROPE_NEOX,
     .traits = AT_SANDWICH | AT_EMBED_SCALE | AT_QK_NORM, .swa = SWA_PERIOD, .swa_period = 6,
     .local_rope_base = 10000.0f, .local_rope_unscaled = true, .qscale = QSCALE_GEMMA, .wide_scale_layers = 62},
    /* Gemma 4 (E2B/E4B text): per-layer pattern of sliding layers with their own head size
     * and rope, proportional rope on global layers (rope_freqs), the last layers reading
     * earlier layers' keys, per-layer inputs, an output scale per layer, the logit cap */
    {.name = "gemma4", .norm = NORM_RMS, .act = ACT_GELU_TANH, .rope = ROPE_NEOX,
     .traits = AT_SANDWICH | AT_EMBED_SCALE | AT_QK_NORM | AT_V_NORM | AT_PER_LAYER_IN | AT_OUT_SCALE | AT_KV_SHARING,
     .swa = SWA_PATTERN_KEY, .qscale = QSCALE_ONE},
    /* SmolLM3: Llama layers, every 4th without rope */
    {.name = "smollm3", .norm = NORM_RMS, .act = ACT_SILU, .rope = ROPE_NORM, .no_rope_every = 4},
    /* Ministral 3: Llama layers, YaRN rope, attention temperature past the original context */
    {.name = "mistral3", .norm = NORM_RMS, .act = ACT_SILU, .rope = ROPE_NORM, .traits = AT_ATTN_TEMP},
    /* Qwen3-VL as a text model: Qwen3 layers; its multi-section rope is NEOX when the three
     * position components are equal, as they are for text */
    {.name = "qwen3vl", .norm = NORM_RMS, .act = ACT_SILU, .rope = ROPE_NEOX, .traits = AT_QK_NORM},
    /* Phi-3 / Phi-4-mini: fused q/k/v and gate/up, LongRoPE */
    {.name = "phi3", .norm = NORM_RMS, .act = ACT_SILU, .rope = ROPE_NEOX,
     .traits = AT_FUSED_QKV | AT_FUSED_UP | AT_LONGROPE, .swa = SWA_ALL},
    /* Qwen3.5 (dense): Gated DeltaNet layers with a gated attention layer every
     * full_attention_interval-th; partial NEOX rope on the attention layers */
    {.name = "qwen35", .norm = NORM_RMS, .act = ACT_SILU, .rope = ROPE_NEOX,
     .traits = AT_QK_NORM | AT_ATTN_GATE | AT_DELTANET | AT_FFN_NORM_POST},
    /* mixtures of experts */
    /* gpt-oss: MXFP4 experts with biases (top-k of the raw router logits, softmax over the
     * chosen, the clamped SwiGLU), attention sinks, q/k/v/o biases, sliding windows on
     * even layers, YaRN (its metadata), untied output */
    {.name = "gpt-oss", .norm = NORM_RMS, .act = ACT_SWIGLU_OAI, .rope = ROPE_NEOX,
     .traits = AT_QKV_BIAS | AT_O_BIAS | AT_ATTN_SINKS | AT_FFN_NORM_POST | AT_MOE | AT_MOE_BIAS,
     .swa = SWA_EVEN, .routing = ROUTE_TOPK_SOFTMAX},
    /* Qwen3.5-MoE: Qwen3.5's hybrid with Qwen3-MoE's routing and a shared expert gated by
     * sigmoid(ffn_gate_inp_shexp . x) */
    {.name = "qwen35moe", .norm = NORM_RMS, .act = ACT_SILU, .rope = ROPE_NEOX,
     .traits = AT_QK_NORM | AT_ATTN_GATE | AT_DELTANET | AT_FFN_NORM_POST | AT_MOE | AT_SHARED_EXPERT,
     .routing = ROUTE_SOFTMAX, .moe_norm = true},
    /* Qwen3-MoE: Qwen3's attention; softmax over all experts, top-k, renormalised */
    {.name = "qwen3moe", .norm = NORM_RMS, .act = ACT_SILU, .rope = ROPE_NEOX, .traits = AT_QK_NORM | AT_MOE,
     .routing = ROUTE_SOFTMAX, .moe_norm = true},
};
#define N_ARCHS (sizeof ARCHS / sizeof ARCHS[0])

const arch_desc *arch_find(const char *name, size_t len) {
    for (size_t i = 0; i < N_ARCHS; i++)
        if (strlen(ARCHS[i].name) == len && memcmp(ARCHS[i].name, name, len) == 0) return &ARCHS[i];
    return NULL;
}

void arch_list(char *buf, size_t cap) {
    size_t used = 0;
    if (cap) buf[0] = 0;
    for (size_t i = 0; i < N_ARCHS && used < cap; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", ARCHS[i].name);
        if (n < 0) break;
        used += (size_t)n;
    }
}

/* --- tensors -------------------------------------------------------------------------- */

#define LW(f) offsetof(layer_weights, f)
#define MW(f) offsetof(model, f)

/* Every tensor a layer may hold, in the order llama.cpp writes them. */
const tensor_spec ARCH_LAYER_TENSORS[] = {
    {"attn_norm.weight", LW(attn_norm), false, DIM_EMBD, DIM_1, 0, 0, false, 0, false},
    {"attn_norm.bias", LW(attn_norm_b), false, DIM_EMBD, DIM_1, AT_NORM_BIAS, 0, false, 0, false},
    {"attn_qkv.weight", LW(wqkv), true, DIM_EMBD, DIM_QKV, AT_FUSED_QKV, 0, false, 0, false},
    {"attn_qkv.bias", LW(bqkv), false, DIM_QKV, DIM_1, AT_FUSED_QKV | AT_ALL_BIASES, 0, false, 0, false},
    {"attn_q.weight", LW(wq), true, DIM_EMBD, DIM_QG, 0, AT_FUSED_QKV, false, 0, TL_ATTENTION},
    {"attn_k.weight", LW(wk), true, DIM_EMBD, DIM_KV, 0, AT_FUSED_QKV, false, 0, true},
    {"attn_v.weight", LW(wv), true, DIM_EMBD, DIM_KV, 0, AT_FUSED_QKV, false, 0, true},
    /* Qwen2 always has q/k/v biases; some llama-layout files do too */
    {"attn_q.bias", LW(bq), false, DIM_Q, DIM_1, 0, AT_FUSED_QKV, true, AT_QKV_BIAS, TL_ATTENTION},
    {"attn_k.bias", LW(bk), false, DIM_KV, DIM_1, 0, AT_FUSED_QKV, true, AT_QKV_BIAS, true},
    {"attn_v.bias", LW(bv), false, DIM_KV, DIM_1, 0, AT_FUSED_QKV, true, AT_QKV_BIAS, true},
    {"attn_q_norm.weight", LW(q_norm), false, DIM_HEAD, DIM_1, AT_QK_NORM, 0, false, 0, TL_ATTENTION},
    {"attn_k_norm.weight", LW(k_norm), false, DIM_HEAD, DIM_1, AT_QK_NORM, 0, false, 0, true},
    {"attn_output.weight", LW(wo), true, DIM_Q, DIM_EMBD, 0, 0, false, 0, TL_ATTENTION},
    {"attn_output.bias", LW(bo), false, DIM_EMBD, DIM_1, 0, 0, true, AT_ALL_BIASES | AT_O_BIAS, TL_ATTENTION},
    {"attn_sinks.weight", LW(attn_sinks), false, DIM_N_HEAD, DIM_1, AT_ATTN_SINKS, 0, false, 0, TL_ATTENTION},
    {"post_attention_norm.weight", LW(post_attn_norm), false, DIM_EMBD, DIM_1, AT_SANDWICH, 0, false, 0, false},
    {"ffn_norm.weight", LW(ffn_norm), false, DIM_EMBD, DIM_1, 0, AT_FFN_NORM_POST, false, 0, false},
    {"post_attention_norm.weight", LW(ffn_norm), false, DIM_EMBD, DIM_1, AT_FFN_NORM_POST, 0, false, 0, false},
    {"ffn_norm.bias", LW(ffn_norm_b), false, DIM_EMBD, DIM_1, AT_NORM_BIAS, 0, false, 0, false},
    {"ffn_gate.weight", LW(ffn_gate), true, DIM_EMBD, DIM_FF, 0, AT_NO_GATE | AT_FUSED_UP | AT_MOE, false, 0, false},
    {"ffn_up.weight", LW(ffn_up), true, DIM_EMBD, DIM_FF, 0, AT_FUSED_UP | AT_MOE, false, 0, false},
    {"ffn_up.weight", LW(ffn_up), true, DIM_EMBD, DIM_FF2, AT_FUSED_UP, 0, false, 0, false},
    {"ffn_up.bias", LW(ffn_up_b), false, DIM_FF, DIM_1, AT_ALL_BIASES, 0, false, 0, false},
    {"ffn_down.weight", LW(ffn_down), true, DIM_FF, DIM_EMBD, 0, AT_MOE, false, 0, false},
    {"ffn_down.bias", LW(ffn_down_b), false, DIM_EMBD, DIM_1, AT_ALL_BIASES, 0, false, 0, false},
    {"post_ffw_norm.weight", LW(post_ffw_norm), false, DIM_EMBD, DIM_1, AT_SANDWICH, 0, false, 0, false},
    {"inp_gate.weight", LW(inp_gate), true, DIM_EMBD, DIM_PLE, AT_PER_LAYER_IN, 0, false, 0, false},
    {"proj.weight", LW(proj), true, DIM_PLE, DIM_EMBD, AT_PER_LAYER_IN, 0, false, 0, false},
    {"post_norm.weight", LW(post_norm), false, DIM_EMBD, DIM_1, AT_PER_LAYER_IN, 0, false, 0, false},
    {"layer_output_scale.weight", LW(out_scale), false, DIM_1, DIM_1, AT_OUT_SCALE, 0, false, 0, false},
    /* Gated DeltaNet layers (deltanet.h): q, k, v in one matrix into the convolution, the
     * output gate z, the convolution's taps, beta and the decay's projections, its bias
     * and (negative) rate, the gated norm's gain, the output projection */
    {"attn_qkv.weight", LW(ssm_qkv), true, DIM_EMBD, DIM_SSM_CONV, AT_DELTANET, 0, false, 0, TL_DELTANET},
    {"attn_gate.weight", LW(ssm_z), true, DIM_EMBD, DIM_SSM_V, AT_DELTANET, 0, false, 0, TL_DELTANET},
    {"ssm_conv1d.weight", LW(ssm_conv), true, DIM_SSM_KERNEL, DIM_SSM_CONV, AT_DELTANET, 0, false, 0, TL_DELTANET},
    {"ssm_dt.bias", LW(ssm_dt), false, DIM_SSM_HEADS, DIM_1, AT_DELTANET, 0, false, 0, TL_DELTANET},
    {"ssm_a", LW(ssm_a), false, DIM_SSM_HEADS, DIM_1, AT_DELTANET, 0, false, 0, TL_DELTANET},
    {"ssm_beta.weight", LW(ssm_beta), true, DIM_EMBD, DIM_SSM_HEADS, AT_DELTANET, 0, false, 0, TL_DELTANET},
    {"ssm_alpha.weight", LW(ssm_alpha), true, DIM_EMBD, DIM_SSM_HEADS, AT_DELTANET, 0, false, 0, TL_DELTANET},
    {"ssm_norm.weight", LW(ssm_norm), false, DIM_SSM_HEAD_V, DIM_1, AT_DELTANET, 0, false, 0, TL_DELTANET},
    {"ssm_out.weight", LW(ssm_out), true, DIM_SSM_V, DIM_EMBD, AT_DELTANET, 0, false, 0, TL_DELTANET},
    /* mixtures of experts: the router, the stacked experts (ne[2] = n_expert), their biases,
     * the shared expert and its gate */
    {"ffn_gate_inp.weight", LW(router), true, DIM_EMBD, DIM_EXPERT, AT_MOE, 0, false, 0, false},
    {"ffn_gate_inp.bias", LW(router_b), false, DIM_EXPERT, DIM_1, AT_MOE | AT_MOE_BIAS, 0, false, 0, false},
    {"ffn_gate_exps.weight", LW(gate_exps), true, DIM_EMBD, DIM_FF_EXP_X, AT_MOE, 0, false, 0, false},
    {"ffn_up_exps.weight", LW(up_exps), true, DIM_EMBD, DIM_FF_EXP_X, AT_MOE, 0, false, 0, false},
    {"ffn_down_exps.weight", LW(down_exps), true, DIM_FF_EXP, DIM_EMBD_X, AT_MOE, 0, false, 0, false},
    {"ffn_gate_exps.bias", LW(gate_exps_b), false, DIM_FF_EXP, DIM_EXPERT, AT_MOE | AT_MOE_BIAS, 0, false, 0, false},
    {"ffn_up_exps.bias", LW(up_exps_b), false, DIM_FF_EXP, DIM_EXPERT, AT_MOE | AT_MOE_BIAS, 0, false, 0, false},
    {"ffn_down_exps.bias", LW(down_exps_b), false, DIM_EMBD, DIM_EXPERT, AT_MOE | AT_MOE_BIAS, 0, false, 0, false},
    {"ffn_gate_inp_shexp.weight", LW(shexp_gate), false, DIM_EMBD, DIM_1, AT_SHARED_EXPERT, 0, false, 0, false},
    {"ffn_gate_shexp.weight", LW(gate_shexp), true, DIM_EMBD, DIM_FF, AT_SHARED_EXPERT, 0, false, 0, false},
    {"ffn_up_shexp.weight", LW(up_shexp), true, DIM_EMBD, DIM_FF, AT_SHARED_EXPERT, 0, false, 0, false},
    {"ffn_down_shexp.weight", LW(down_shexp), true, DIM_FF, DIM_EMBD, AT_SHARED_EXPERT, 0, false, 0, false},
};
const size_t ARCH_N_LAYER_TENSORS = sizeof ARCH_LAYER_TENSORS / sizeof ARCH_LAYER_TENSORS[0];

/* The model-level tensors (the token embedding comes first: it gives the vocabulary). */
const tensor_spec ARCH_MODEL_TENSORS[] = {
    {"token_embd.weight", MW(token_embd), true, DIM_EMBD, DIM_VOCAB, 0, 0, false, 0, false},
    {"per_layer_token_embd.weight", MW(per_layer_embd), true, DIM_PLE_ALL, DIM_VOCAB, AT_PER_LAYER_IN, 0, false, 0, false},
    {"per_layer_model_proj.weight", MW(per_layer_proj), true, DIM_EMBD, DIM_PLE_ALL, AT_PER_LAYER_IN, 0, false, 0, false},
    {"per_layer_proj_norm.weight", MW(per_layer_proj_norm), false, DIM_PLE, DIM_1, AT_PER_LAYER_IN, 0, false, 0, false},
    {"position_embd.weight", MW(position_embd), true, DIM_EMBD, DIM_CTX_TRAIN, AT_LEARNED_POS, 0, false, 0, false},
    {"output_norm.weight", MW(output_norm), false, DIM_EMBD, DIM_1, 0, 0, false, 0, false},
    {"output_norm.bias", MW(output_norm_b), false, DIM_EMBD, DIM_1, AT_NORM_BIAS, 0, false, 0, false},
    /* no output.weight: the head shares the embedding matrix */
    {"output.weight", MW(output), true, DIM_EMBD, DIM_VOCAB, 0, 0, true, 0, false},
    /* Llama 3's frequency correction, Gemma 4's proportional rope */
    {"rope_freqs.weight", MW(ropes[0].factors), false, DIM_ROPE_HALF, DIM_1, 0, AT_LEARNED_POS | AT_LONGROPE, true, 0, false},
    {"rope_factors_short.weight", MW(ropes[0].factors), false, DIM_ROPE_HALF, DIM_1, AT_LONGROPE, 0, false, 0, false},
    {"rope_factors_long.weight", MW(ropes[0].factors_long), false, DIM_ROPE_HALF, DIM_1, AT_LONGROPE, 0, false, 0, false},
};
const size_t ARCH_N_MODEL_TENSORS = sizeof ARCH_MODEL_TENSORS / sizeof ARCH_MODEL_TENSORS[0];

/* --- rope ------------------------------------------------------------------------------ */

const float *rope_factors_for(const rope_desc *r, int n_ctx) {
    return r->factors_long && n_ctx > r->orig_ctx ? r->factors_long : r->factors;
}

/* YaRN: pairs that turn fewer than beta_slow times over the original context keep the
 * interpolated (scaled) angle, pairs that turn more than beta_fast times keep the
 * extrapolated one, and a linear ramp blends the pairs between, by ext_factor. This is
 * the correction dimension for a number of turns: the pair index at which that many full
 * turns fit in orig_ctx positions. */
static double yarn_corr_dim(const rope_desc *r, double turns) {
    return r->dim * log(r->orig_ctx / (turns * 2 * M_PI)) / (2 * log(r->base));
}

void rope_cos_sin(const rope_desc *r, const float *factors, int pos, int pair, float *c, float *s) {
    double freq = pow((double)r->base, -2.0 * pair / r->dim);
    if (factors) freq /= factors[pair];
    double angle = (double)pos * r->freq_scale * freq, mag = r->attn_factor;
    if (r->ext_factor != 0.0f) {
        double lo = fmax(0.0, floor(yarn_corr_dim(r, r->beta_fast)));
        double hi = fmin(r->dim - 1, ceil(yarn_corr_dim(r, r->beta_slow)));
        double ramp = 1.0 - fmin(1.0, fmax(0.0, (pair - lo) / fmax(0.001, hi - lo)));
        double mix = ramp * r->ext_factor, extrap = (double)pos * freq;
        angle = angle * (1.0 - mix) + extrap * mix;
        mag *= 1.0 + 0.1 * log(1.0 / r->freq_scale);
    }
    *c = (float)(cos(angle) * mag);
    *s = (float)(sin(angle) * mag);
}
