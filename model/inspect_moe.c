/* inspect_moe.c — the why card's "experts" (inspect.h): which experts answered, and how
 * much each layer's experts pushed the chosen token's logit.
 *
 * The push of layer l is the direct contribution of what its experts added to the
 * residual stream (step_record.moe_out) to the token's logit: the final norm linearised at
 * the last layer's output (its scale held fixed), then the output head's row of the token
 * (head_contribution). It leaves out everything the layer's output did through later
 * layers (those effects are the later layers' own contributions), which is what makes the
 * numbers comparable and additive. */
#include "head.h"
#include "inspect.h"
#include "quant.h"
#include "routing.h"

#include <math.h>
#include <stdlib.h>

bool inspect_expert_pushes(const model *m, const step_record *r, float *push) {
    const int L = m->hp.n_layer, d = m->hp.n_embd;
    for (int l = 0; l < L; l++) push[l] = NAN;
    if (!r->moe_out || !r->routing) return false;
    const size_t n = (size_t)(L + 1) * (size_t)d;
    float *v = malloc(n * sizeof *v);
    if (!v) return false;
    fp16_to_f32_row(r->moe_out, v, n);
    const float *x_final = v + (size_t)L * d;
    for (int l = 0; l < L; l++)
        if (routing_layer_has_experts(r->routing, l)) push[l] = head_contribution(m, x_final, v + (size_t)l * d, r->token);
    free(v);
    return true;
}

int inspect_experts(const model *m, const step_record *r, int n_layer, int n_embd, why_card *out) {
    if (!r->routing) return 0;
    if (!(out->routing = routing_copy(r->routing))) return -1;
    if (!m || !r->moe_out || m->hp.n_layer != n_layer || m->hp.n_embd != n_embd) return 0;
    if (!(out->expert_push = malloc((size_t)n_layer * sizeof *out->expert_push))) return -1;
    if (!inspect_expert_pushes(m, r, out->expert_push)) {
        free(out->expert_push);
        out->expert_push = NULL;
        return -1;
    }
    return 0;
}
