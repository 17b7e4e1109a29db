// matvec.glsl — y = W x for up to NT vectors at once; each subgroup computes whole rows.
// The decode path: with the fusions below, a transformer layer is five steps.
//
// A workgroup owns ROWS consecutive items (a specialization constant: the host picks
// workgroup size / subgroup size, so that normally each subgroup takes one item); an item
// is one row, or in the pair modes two neighbouring rows. Its subgroups take items in
// turn, which stays correct whatever subgroup size the driver actually uses. The lanes
// of a subgroup walk the row in units of 8 elements (see the dequant_*.glsl included
// before this file), dequantise each unit into registers once and dot it with every
// vector of the batch, so a batch of NT tokens reads each weight once; a decode step is
// the same code with one vector. Sums are reduced with subgroupAdd alone: no shared
// memory, no barriers.
//
// Workgroups are folded over x and z (vocabularies exceed the 65535 workgroups of one
// dimension); y walks the batch in blocks of NT vectors.
// flags:
//   1  BIAS        add params[bias_off + r]
//   2  ACCUMULATE  y += W x: the residual connection of the output projections
//   4  NORM        RMSNorm of x on the fly: W (x / rms(x) * g) with g = params[norm_off ..],
//                  which is (W (x * g)) / rms(x); the lanes, which between them read all
//                  of x for every row anyway, also sum its squares. Saves the norm step.
//   8  ROPE        rows in pairs (2i, 2i + 1) of each head rotated by the (cos, sin) table
//                  at position pos0 + t (pairs i < rope_dim/2; the engine stores every
//                  model's q and k rows with rotated pairs side by side). Saves the rope
//                  step; row_base is the first row's index in the output vector.
//   16 GLU         rows in pairs (gate, up) of one interleaved matrix: y[r/2] = silu(gate)
//                  * up. Saves the SwiGLU step.
//   32 GELU        with GLU: gelu(gate) * up instead (GeGLU).
//   64 EXPERTS     a mixture of experts' products (compute/vk_moe.c): W holds every
//                  expert's rows, expert_rows each; vector v (one per workgroup of y, not
//                  NT) is slot v % n_slots of token v / n_slots and reads the rows of expert
//                  route[ids_off + v] (the router's choice), its bias at the same place of
//                  the expert's biases, its input x row v / n_slots (x_per_slot: v).
//  128 OAI         with GLU: gpt-oss's clamped SwiGLU, min(gate, 7) sigmoid(1.702 min(gate,
//                  7)) (clamp(up, -7, 7) + 1) (op_swiglu_oai).
layout(constant_id = 1) const uint NT = 8;
layout(constant_id = 2) const uint ROWS = 8;

layout(binding = 1, std430) readonly buffer Xbuf { float x[]; };
layout(binding = 2, std430) buffer Ybuf { float y[]; };
layout(binding = 3, std430) readonly buffer Params { float params[]; };
layout(binding = 4, std430) readonly buffer Table { vec2 cos_sin[]; }; // [position][rope_dim/2]
layout(binding = 5, std430) readonly buffer Route { uint route[]; };     // EXPERTS: the chosen ids

layout(push_constant) uniform Push {
    uint cols, rows, row0, n;
    uint x_off, x_stride, y_off, y_stride;
    uint row_bytes, bias_off, flags, norm_off;
    float eps;
    uint pos0, head_dim, rope_dim, row_base;
    uint ids_off, n_slots, expert_rows, x_per_slot;
} pc;

void main() {
    const bool bias = (pc.flags & 1u) != 0u, accumulate = (pc.flags & 2u) != 0u;
    const bool norm = (pc.flags & 4u) != 0u, rope = (pc.flags & 8u) != 0u, glu = (pc.flags & 16u) != 0u;
    const bool pairs = rope || glu, experts = (pc.flags & 64u) != 0u;
    const uint t0 = experts ? gl_WorkGroupID.y : gl_WorkGroupID.y * NT, nt = experts ? 1u : min(NT, pc.n - t0);
    const uint n_items = pairs ? pc.rows / 2u : pc.rows;
    // EXPERTS: this vector's expert and input row (else: row 0 of W, input row t0 + t)
    const uint expert_row0 = experts ? route[pc.ids_off + t0] * pc.expert_rows : 0u;
    const uint x_row0 = experts && pc.x_per_slot == 0u ? t0 / pc.n_slots : t0;
    for (uint il = gl_SubgroupID; il < ROWS; il += gl_NumSubgroups) {
        uint item = folded_group() * ROWS + il;
        if (item >= n_items) break; // uniform within the subgroup
        uint r = pairs ? 2u * item : item; // the item's (first) row, from this dispatch's first
        uint row_a = (pc.row0 + expert_row0 + r) * pc.row_bytes, row_b = row_a + pc.row_bytes;
        float acc[NT], acc2[NT], ss[NT];
        for (uint t = 0; t < NT; t++) acc[t] = acc2[t] = ss[t] = 0.0;

        for (uint u = gl_SubgroupInvocationID; u < pc.cols / UNIT; u += gl_SubgroupSize) {
            float w[UNIT], w2[UNIT], g[UNIT];
            load_unit(row_a, u, w);
            if (pairs) load_unit(row_b, u, w2);
            for (uint i = 0; i < UNIT; i++) g[i] = norm ? params[pc.norm_off + u * UNIT + i] : 1.0;
            // constant bounds, so that acc[] stays in registers (indexing it with the
            // run-time nt would put it in memory on some compilers)
            for (uint t = 0; t < NT; t++) {
                if (t >= nt) break;
                uint xb = pc.x_off + (x_row0 + t) * pc.x_stride + u * UNIT;
                float s = 0.0, s2 = 0.0, q = 0.0;
                for (uint i = 0; i < UNIT; i++) {
                    float xv = x[xb + i];
                    if (norm) {
                        q += xv * xv;
                        xv *= g[i];
                    }
                    s += w[i] * xv;
                    if (pairs) s2 += w2[i] * xv;
                }
                acc[t] += s;
                acc2[t] += s2;
                ss[t] += q;
            }
        }
#ifdef HAS_TAIL
        // rows of a float type may end in a partial unit (e.g. 172 columns)
        for (uint c = (pc.cols / UNIT) * UNIT + gl_SubgroupInvocationID; c < pc.cols; c += gl_SubgroupSize) {
            float w = load_elem(row_a, c), w2 = pairs ? load_elem(row_b, c) : 0.0;
            float g = norm ? params[pc.norm_off + c] : 1.0;
            for (uint t = 0; t < NT; t++) {
                if (t >= nt) break;
                float xv = x[pc.x_off + (x_row0 + t) * pc.x_stride + c];
                ss[t] += xv * xv;
                acc[t] += w * xv * g;
                acc2[t] += w2 * xv * g;
            }
        }
#endif
        for (uint t = 0; t < NT; t++) {
            if (t >= nt) break;
            float a = subgroupAdd(acc[t]);
            float b = pairs ? subgroupAdd(acc2[t]) : 0.0;
            if (norm) {
                float scale = 1.0 / sqrt(subgroupAdd(ss[t]) / float(pc.cols) + pc.eps);
                a *= scale;
                b *= scale;
            }
            if (subgroupElect()) {
                if (bias) {
                    a += params[pc.bias_off + expert_row0 + r];
                    if (pairs) b += params[pc.bias_off + expert_row0 + r + 1u];
                }
                uint yb = pc.y_off + (t0 + t) * pc.y_stride;
                if (glu && (pc.flags & 128u) != 0u) {
                    float g = min(a, 7.0), u = clamp(b, -7.0, 7.0);
                    y[yb + r / 2u] = g / (1.0 + exp(-1.702 * g)) * (u + 1.0);
                } else if (glu) {
                    float act = (pc.flags & 32u) != 0u ? gelu_tanh(a) : a / (1.0 + exp(-a));
                    y[yb + r / 2u] = act * b;
                } else if (rope) {
                    uint i = ((pc.row_base + r) % pc.head_dim) / 2u, half_ = pc.rope_dim / 2u;
                    if (i < half_) {
                        vec2 cs = cos_sin[(pc.pos0 + t0 + t) * half_ + i];
                        float a2 = a * cs.x - b * cs.y;
                        b = a * cs.y + b * cs.x;
                        a = a2;
                    }
                    y[yb + r] = a;
                    y[yb + r + 1u] = b;
                } else {
                    y[yb + r] = accumulate ? y[yb + r] + a : a;
                }
            }
        }
    }
}
