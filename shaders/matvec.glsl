// matvec.glsl — y = W x for up to NT vectors at once, one output row per workgroup.
//
// Each invocation walks the row in units (a quantization block or sub-block, see the
// dequant_*.glsl included before this file), dequantises a unit into registers once and
// dots it with every vector of the batch: a prompt of NT tokens reads each weight once.
// Decoding (one vector) is the same code with NT-1 idle accumulators. The row index is
// folded over x and z (vocabularies exceed the 65535 workgroups of one dimension), the
// y dimension walks the batch in blocks of NT.
//
// flags: 1 = add bias params[bias_off + r]; 2 = accumulate (y += W x), which fuses the
// residual connection into the output projections.
layout(constant_id = 1) const uint NT = 8;

layout(binding = 1, std430) readonly buffer Xbuf { float x[]; };
layout(binding = 2, std430) buffer Ybuf { float y[]; };
layout(binding = 3, std430) readonly buffer Params { float params[]; };

layout(push_constant) uniform Push {
    uint cols, rows, row0, n;
    uint x_off, x_stride, y_off, y_stride;
    uint row_bytes, bias_off, flags;
} pc;

void main() {
    uint r = folded_group();
    if (r >= pc.rows) return; // the whole workgroup leaves together
    uint t0 = gl_WorkGroupID.y * NT;
    uint nt = min(NT, pc.n - t0);
    uint row_byte = (pc.row0 + r) * pc.row_bytes;
    float acc[NT];
    for (uint t = 0; t < NT; t++) acc[t] = 0.0;

    for (uint u = gl_LocalInvocationID.x; u < pc.cols / UNIT; u += WG) {
        float w[UNIT];
        load_unit(row_byte, u, w);
        for (uint t = 0; t < nt; t++) {
            uint xb = pc.x_off + (t0 + t) * pc.x_stride + u * UNIT;
            float s = 0.0;
            for (uint i = 0; i < UNIT; i++) s += w[i] * x[xb + i];
            acc[t] += s;
        }
    }
    for (uint t = 0; t < nt; t++) {
        float s = wg_sum(acc[t]);
        if (gl_LocalInvocationID.x == 0) {
            if ((pc.flags & 1u) != 0u) s += params[pc.bias_off + r];
            uint yi = pc.y_off + (t0 + t) * pc.y_stride + r;
            y[yi] = (pc.flags & 2u) != 0u ? y[yi] + s : s;
        }
    }
}
