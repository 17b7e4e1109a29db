#version 450
// get_rows_bf16.comp — embedding lookup from a bf16 matrix (see get_rows.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_bf16.glsl"
#include "get_rows.glsl"
