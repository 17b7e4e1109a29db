// common.glsl — what every llmscope kernel shares: the extensions, the workgroup size
// (specialization constant 0, chosen per device from its subgroup size) and reductions.
//
// Reductions run in two steps: subgroupAdd/subgroupMax inside each subgroup (8 lanes on
// lavapipe, 32 on NVIDIA, 64 on AMD), then one value per subgroup through shared memory.
// They must be called from uniform control flow by the whole workgroup.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;

// Workgroups are at most 256 invocations and subgroups at least 4 wide (checked when the
// device is chosen), so 64 partial results always fit.
shared float red_partial[64];

float wg_sum(float v) {
    v = subgroupAdd(v);
    if (subgroupElect()) red_partial[gl_SubgroupID] = v;
    barrier();
    float s = 0.0;
    for (uint i = 0; i < gl_NumSubgroups; i++) s += red_partial[i];
    barrier();
    return s;
}

float wg_max(float v) {
    v = subgroupMax(v);
    if (subgroupElect()) red_partial[gl_SubgroupID] = v;
    barrier();
    float m = red_partial[0];
    for (uint i = 1; i < gl_NumSubgroups; i++) m = max(m, red_partial[i]);
    barrier();
    return m;
}

// GELU, tanh approximation (GPT-2, Gemma), as op_gelu. tanh saturates long before
// |u| = 15; clamping keeps drivers that build tanh from exp() away from inf/inf = NaN.
float gelu_tanh(float v) {
    float u = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -15.0, 15.0);
    return 0.5 * v * (1.0 + tanh(u));
}

// cap * tanh(x / cap): soft-capping of scores and logits (Gemma), clamped likewise.
float softcap(float x, float cap) {
    return cap * tanh(clamp(x / cap, -15.0, 15.0));
}

// The flat workgroup index of a grid folded into x and z (see vk_fold_groups).
uint folded_group() {
    return gl_WorkGroupID.x + gl_WorkGroupID.z * gl_NumWorkGroups.x;
}
