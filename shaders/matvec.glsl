// matvec.glsl — y = W x for up to NT vectors at once; each subgroup computes whole rows.
//
// A workgroup owns ROWS consecutive rows (a specialization constant: the host picks
// workgroup size / subgroup size, so that normally each subgroup takes one row). Its
// subgroups take rows in turn, which stays correct whatever subgroup size the driver
// actually uses. The lanes of a subgroup walk the row in units of 8 elements (see the
// dequant_*.glsl included before this file), dequantise each unit into registers once and dot it with every vector of the batch, so a prompt of NT tokens
// reads each weight once; a decode step is the same code with one vector. Sums are
// reduced with subgroupAdd alone: no shared memory, no barriers.
//
// Workgroups are folded over x and z (vocabularies exceed the 65535 workgroups of one
// dimension); y walks the batch in blocks of NT vectors.
// flags: 1 = add bias params[bias_off + r]; 2 = accumulate (y += W x), which fuses the
// residual connection into the output projections.
layout(constant_id = 1) const uint NT = 8;
layout(constant_id = 2) const uint ROWS = 8;

layout(binding = 1, std430) readonly buffer Xbuf { float x[]; };
layout(binding = 2, std430) buffer Ybuf { float y[]; };
layout(binding = 3, std430) readonly buffer Params { float params[]; };

layout(push_constant) uniform Push {
    uint cols, rows, row0, n;
    uint x_off, x_stride, y_off, y_stride;
    uint row_bytes, bias_off, flags;
} pc;

void main() {
    uint t0 = gl_WorkGroupID.y * NT;
    uint nt = min(NT, pc.n - t0);
    for (uint rl = gl_SubgroupID; rl < ROWS; rl += gl_NumSubgroups) {
        uint r = folded_group() * ROWS + rl;
        if (r >= pc.rows) break; // uniform within the subgroup
        uint row_byte = (pc.row0 + r) * pc.row_bytes;
        float acc[NT];
        for (uint t = 0; t < NT; t++) acc[t] = 0.0;

        for (uint u = gl_SubgroupInvocationID; u < pc.cols / UNIT; u += gl_SubgroupSize) {
            float w[UNIT];
            load_unit(row_byte, u, w);
            // constant bounds, so that acc[] stays in registers (indexing it with the
            // run-time nt would put it in memory on some compilers)
            for (uint t = 0; t < NT; t++) {
                if (t >= nt) break;
                uint xb = pc.x_off + (t0 + t) * pc.x_stride + u * UNIT;
                float s = 0.0;
                for (uint i = 0; i < UNIT; i++) s += w[i] * x[xb + i];
                acc[t] += s;
            }
        }
#ifdef HAS_TAIL
        // rows of a float type may end in a partial unit (e.g. 172 columns)
        for (uint c = (pc.cols / UNIT) * UNIT + gl_SubgroupInvocationID; c < pc.cols; c += gl_SubgroupSize) {
            float w = load_elem(row_byte, c);
            for (uint t = 0; t < NT; t++) {
                if (t >= nt) break;
                acc[t] += w * x[pc.x_off + (t0 + t) * pc.x_stride + c];
            }
        }
#endif
        for (uint t = 0; t < NT; t++) {
            if (t >= nt) break;
            float s = subgroupAdd(acc[t]);
            if (subgroupElect()) {
                if ((pc.flags & 1u) != 0u) s += params[pc.bias_off + r];
                uint yi = pc.y_off + (t0 + t) * pc.y_stride + r;
                y[yi] = (pc.flags & 2u) != 0u ? y[yi] + s : s;
            }
        }
    }
}
