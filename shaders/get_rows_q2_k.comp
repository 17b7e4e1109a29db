#version 450
// get_rows_q2_k.comp — embedding lookup from a q2_k matrix (see get_rows.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q2_k.glsl"
#include "get_rows.glsl"
