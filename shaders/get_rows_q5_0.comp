#version 450
// get_rows_q5_0.comp — embedding lookup from a q5_0 matrix (see get_rows.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q5_0.glsl"
#include "get_rows.glsl"
