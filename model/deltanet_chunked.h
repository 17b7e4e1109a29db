/* deltanet_chunked.h — the chunked DeltaNet recurrence (ops.h, op_deltanet_chunked),
 * written once for two translation units: ops.c, the reference, includes it with its
 * dot(); deltanet_fast.c, the engine's copy, with dot8 (the same operations in the same
 * order) inside each of its compiled copies (baseline and AVX2), so both give the same
 * bits. The includer defines DN_DOT(a, b, n) and DN_INLINE (how the functions are
 * declared: static, or always inlined) first. No include guard: once per file. */

/* The chunk is full: S0 <- e^L S0 + sum_s e^(L - L_s) u_s k_s^T, over its DN_CHUNK tokens. */
DN_INLINE void dn_fold_chunk(const dn_head_state *st) {
    const int d_k = st->d_k, d_v = st->d_v;
    const float last = st->lc[(DN_CHUNK - 1) * st->stride_lc], keep = expf(last);
    for (int r = 0; r < d_v; r++) {
        float *row = st->S + (size_t)r * d_k;
        for (int c = 0; c < d_k; c++) row[c] *= keep;
        for (int s = 0; s < DN_CHUNK; s++) {
            const float coef = expf(last - st->lc[s * st->stride_lc]) * st->u[s * st->stride_u + r];
            const float *ks = st->k + s * st->stride_k;
            for (int c = 0; c < d_k; c++) row[c] += coef * ks[c];
        }
    }
}

DN_INLINE void dn_chunked(const dn_head_state *st, int pos, int n, const float *q, const float *k, size_t qk_stride,
                          const float *v, size_t v_stride, const float *beta, const float *g, size_t gb_stride,
                          float *out, size_t out_stride, float *scratch) {
    const int d_k = st->d_k, d_v = st->d_v;
    float *kk = scratch, *kq = scratch + DN_CHUNK, *dec = scratch + 2 * DN_CHUNK;
    for (int i = 0; i < n; i++) {
        const int j = (pos + i) % DN_CHUNK; /* the chunk's tokens before this one */
        const float *qt = q + (size_t)i * qk_stride, *kt = k + (size_t)i * qk_stride, *vt = v + (size_t)i * v_stride;
        const float lc = (j ? st->lc[(j - 1) * st->stride_lc] : 0.0f) + g[(size_t)i * gb_stride];
        const float from_s0 = expf(lc), b = beta[(size_t)i * gb_stride];
        for (int s = 0; s < j; s++) {
            const float *ks = st->k + s * st->stride_k;
            kk[s] = DN_DOT(ks, kt, d_k);
            kq[s] = DN_DOT(ks, qt, d_k);
            dec[s] = expf(lc - st->lc[s * st->stride_lc]);
        }
        const float kq_self = DN_DOT(kt, qt, d_k);
        float *ut = st->u + j * st->stride_u, *ot = out + (size_t)i * out_stride;
        for (int r = 0; r < d_v; r++) {
            const float *row = st->S + (size_t)r * d_k;
            float acc = vt[r] - from_s0 * DN_DOT(row, kt, d_k), o = from_s0 * DN_DOT(row, qt, d_k);
            for (int s = 0; s < j; s++) {
                const float us = st->u[s * st->stride_u + r];
                acc -= dec[s] * kk[s] * us;
                o += dec[s] * kq[s] * us;
            }
            ut[r] = b * acc;
            ot[r] = o + kq_self * ut[r];
        }
        memcpy(st->k + j * st->stride_k, kt, (size_t)d_k * sizeof *kt);
        st->lc[j * st->stride_lc] = lc;
        if (j == DN_CHUNK - 1) dn_fold_chunk(st);
    }
}
