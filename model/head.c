/* head.c — see head.h. */
#include "head.h"
#include "ops.h"
#include "ops_fast.h"

#include <math.h>
#include <stdlib.h>

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

float head_contribution(const model *m, const float *x_final, const float *part, int32_t token) {
    const model_hparams *hp = &m->hp;
    const int d = hp->n_embd;
    float *row = malloc((size_t)d * sizeof *row);
    if (!row) return NAN;
    weight_row(&m->output, token, row);
    double mean_x = 0, mean_p = 0, ss = 0;
    if (hp->norm == NORM_LAYER)
        for (int i = 0; i < d; i++) mean_x += x_final[i], mean_p += part[i];
    mean_x /= d, mean_p /= d;
    for (int i = 0; i < d; i++) ss += (x_final[i] - mean_x) * (x_final[i] - mean_x);
    const double scale = 1.0 / sqrt(ss / d + hp->norm_eps);
    double sum = 0;
    for (int i = 0; i < d; i++) sum += (double)row[i] * (m->output_norm ? m->output_norm[i] : 1.0f) * (part[i] - mean_p);
    free(row);
    return (float)(sum * scale);
}
