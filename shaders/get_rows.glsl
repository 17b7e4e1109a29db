// get_rows.glsl — embedding lookup: y[t] = row ids[t] of W, dequantised.
//
// A matrix too large for one buffer binding is split by rows into parts; each part is a
// separate dispatch that writes only the tokens whose row it holds. flags: 1 = the row
// is the position ids_off + t instead of ids[ids_off + t] (GPT-2's learned positions);
// 2 = multiplied by SCALE (Gemma's embedding scale).
layout(binding = 1, std430) readonly buffer Ids { int ids[]; };
layout(binding = 2, std430) writeonly buffer Ybuf { float y[]; };

layout(push_constant) uniform Push {
    uint cols, n, row_bytes, part_row0, part_rows, y_off, y_stride, ids_off, flags;
    float scale;
} pc;

void main() {
    uint t = gl_WorkGroupID.x;
    if (t >= pc.n) return;
    uint id = (pc.flags & 1u) != 0u ? pc.ids_off + t : uint(ids[pc.ids_off + t]);
    uint local_row = id - pc.part_row0; // wraps to a huge value below the part
    if (local_row >= pc.part_rows) return;
    float s = (pc.flags & 2u) != 0u ? pc.scale : 1.0;
    for (uint u = gl_LocalInvocationID.x; u < pc.cols / UNIT; u += WG) {
        float w[UNIT];
        load_unit(local_row * pc.row_bytes, u, w);
        for (uint i = 0; i < UNIT; i++) y[pc.y_off + t * pc.y_stride + u * UNIT + i] = w[i] * s;
    }
#ifdef HAS_TAIL
    for (uint c = (pc.cols / UNIT) * UNIT + gl_LocalInvocationID.x; c < pc.cols; c += WG)
        y[pc.y_off + t * pc.y_stride + c] = load_elem(local_row * pc.row_bytes, c) * s;
#endif
}
