#version 450
// get_rows_q4_1.comp — embedding lookup from a q4_1 matrix (see get_rows.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q4_1.glsl"
#include "get_rows.glsl"
