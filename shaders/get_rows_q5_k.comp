#version 450
// get_rows_q5_k.comp — embedding lookup from a q5_k matrix (see get_rows.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q5_k.glsl"
#include "get_rows.glsl"
