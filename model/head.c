/* head.c — see head.h. */
#include "head.h"
#include "ops.h"
#include "ops_fast.h"

void model_norm(const model_hparams *hp, float *out, const float *x, const float *g, const float *b, int n) {
    if (hp->norm == NORM_LAYER) op_layernorm(out, x, g, b, n, hp->norm_eps);
    else op_rmsnorm(out, x, g, n, hp->norm_eps);
}

void head_norm(const model *m, float *out, const float *x) {
    model_norm(&m->hp, out, x, m->output_norm, m->output_norm_b, m->hp.n_embd);
}

void head_softcap(const model *m, float *logits, int64_t n) {
    if (m->hp.final_softcap > 0) op_softcap(logits, (int)n, m->hp.final_softcap);
}

void head_logits(const model *m, const float *xn, float *logits) {
    fast_matmul_rows(&m->output, xn, logits, 1, 0, m->output.rows); /* op_matvec's bits, faster */
    head_softcap(m, logits, m->output.rows);
}
