// matmul.glsl — Y = W X for a micro-batch of tokens (prompt evaluation): a tiled matrix
// product through shared memory.
//
// A workgroup computes a BM x BN tile of Y (BM rows of W for BN tokens) in steps of BK
// columns. Each step dequantises the BM x BK piece of W into shared memory once, every
// invocation decoding a few 8-element units with the same load_unit as matvec.glsl (so
// every storage type shares this file), and copies the BN x BK piece of X beside it;
// then each invocation accumulates its TM x TN block of outputs from shared memory. A
// weight is thus read from device memory once per BN tokens and decoded once per tile.
//
// The rows of an invocation's block are BM/TM apart (its tokens BN/TN apart), so that
// neighbouring invocations read neighbouring shared words; both tiles are stored
// k-major with one word of padding per k, which keeps the transposing stores free of
// bank conflicts. Tile sizes are specialization constants the host picks per device
// (vk_ops.c), with WG = (BM/TM) * (BN/TN) and BK a multiple of the 8-element unit.
//
// Edges: rows past pc.rows and tokens past pc.n read zeros and are not stored; columns
// past pc.cols read zeros (float rows may end in a partial unit, read element-wise).
// Push constants, bindings and flags are matvec.glsl's: the two are interchangeable.
layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 32;
layout(constant_id = 4) const uint TM = 8;
layout(constant_id = 5) const uint TN = 8;

layout(binding = 1, std430) readonly buffer Xbuf { float x[]; };
layout(binding = 2, std430) buffer Ybuf { float y[]; };
layout(binding = 3, std430) readonly buffer Params { float params[]; };

layout(push_constant) uniform Push {
    uint cols, rows, row0, n;
    uint x_off, x_stride, y_off, y_stride;
    uint row_bytes, bias_off, flags;
} pc;

shared float w_sh[BK * (BM + 1)]; // [k][row]
shared float x_sh[BK * (BN + 1)]; // [k][token]

void main() {
    const uint SM = BM / TM, SN = BN / TN, UNITS = BK / UNIT;
    const uint lid = gl_LocalInvocationID.x, tx = lid % SM, ty = lid / SM;
    const uint r0 = folded_group() * BM, t0 = gl_WorkGroupID.y * BN;
    const uint full_units = pc.cols / UNIT;

    float acc[TM * TN];
    for (uint i = 0; i < TM * TN; i++) acc[i] = 0.0;

    for (uint k0 = 0; k0 < pc.cols; k0 += BK) {
        for (uint i = lid; i < BM * UNITS; i += WG) {
            uint rl = i / UNITS, ku = i % UNITS, r = r0 + rl, u = k0 / UNIT + ku;
            float w[UNIT];
            if (r < pc.rows && u < full_units) {
                load_unit((pc.row0 + r) * pc.row_bytes, u, w);
            } else {
                for (uint e = 0; e < UNIT; e++) w[e] = 0.0;
#ifdef HAS_TAIL
                if (r < pc.rows)
                    for (uint e = 0; e < UNIT; e++)
                        if (u * UNIT + e < pc.cols) w[e] = load_elem((pc.row0 + r) * pc.row_bytes, u * UNIT + e);
#endif
            }
            for (uint e = 0; e < UNIT; e++) w_sh[(ku * UNIT + e) * (BM + 1) + rl] = w[e];
        }
        for (uint i = lid; i < BN * BK; i += WG) {
            uint tl = i / BK, kk = i % BK, t = t0 + tl, c = k0 + kk;
            x_sh[kk * (BN + 1) + tl] = t < pc.n && c < pc.cols ? x[pc.x_off + t * pc.x_stride + c] : 0.0;
        }
        barrier();
        for (uint kk = 0; kk < BK; kk++) {
            float a[TM], b[TN];
            for (uint i = 0; i < TM; i++) a[i] = w_sh[kk * (BM + 1) + tx + i * SM];
            for (uint j = 0; j < TN; j++) b[j] = x_sh[kk * (BN + 1) + ty + j * SN];
            for (uint i = 0; i < TM; i++)
                for (uint j = 0; j < TN; j++) acc[i * TN + j] += a[i] * b[j];
        }
        barrier();
    }

    for (uint i = 0; i < TM; i++) {
        uint r = r0 + tx + i * SM;
        if (r >= pc.rows) break;
        float bias = (pc.flags & 1u) != 0u ? params[pc.bias_off + r] : 0.0;
        for (uint j = 0; j < TN; j++) {
            uint t = t0 + ty + j * SN;
            if (t >= pc.n) break;
            uint yi = pc.y_off + t * pc.y_stride + r;
            float s = acc[i * TN + j] + bias;
            y[yi] = (pc.flags & 2u) != 0u ? y[yi] + s : s;
        }
    }
}
