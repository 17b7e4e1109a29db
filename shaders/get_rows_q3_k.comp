#version 450
// get_rows_q3_k.comp — embedding lookup from a q3_k matrix (see get_rows.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q3_k.glsl"
#include "get_rows.glsl"
