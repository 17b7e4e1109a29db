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

// The flat workgroup index of a grid folded into x and z (see vk_fold_groups).
uint folded_group() {
    return gl_WorkGroupID.x + gl_WorkGroupID.z * gl_NumWorkGroups.x;
}
