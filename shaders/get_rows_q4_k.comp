#version 450
// get_rows_q4_k.comp — embedding lookup from a q4_k matrix (see get_rows.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q4_k.glsl"
#include "get_rows.glsl"
