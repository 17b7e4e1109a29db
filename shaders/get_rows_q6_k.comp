#version 450
// get_rows_q6_k.comp — embedding lookup from a q6_k matrix (see get_rows.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q6_k.glsl"
#include "get_rows.glsl"
