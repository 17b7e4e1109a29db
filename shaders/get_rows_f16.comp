#version 450
// get_rows_f16.comp — embedding lookup from a f16 matrix (see get_rows.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_f16.glsl"
#include "get_rows.glsl"
