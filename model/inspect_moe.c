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

int inspect_experts(const model *m, const step_record *r, int n_layer, int n_embd, why_card *out) {
    if (!r->routing) return 0;
    if (!(out->routing = routing_copy(r->routing))) return -1;
    if (!m || !r->moe_out || m->hp.n_layer != n_layer || m->hp.n_embd != n_embd) return 0;
    const size_t n = (size_t)(n_layer + 1) * (size_t)n_embd;
    float *v = malloc(n * sizeof *v);
    out->expert_push = malloc((size_t)n_layer * sizeof *out->expert_push);
    if (!v || !out->expert_push) {
        free(v);
        return -1;
    }
    fp16_to_f32_row(r->moe_out, v, n);
    const float *x_final = v + (size_t)n_layer * n_embd;
    for (int l = 0; l < n_layer; l++)
        out->expert_push[l] = routing_layer_has_experts(r->routing, l)
                                  ? head_contribution(m, x_final, v + (size_t)l * n_embd, r->token)
                                  : NAN;
    free(v);
    return 0;
}
