#version 450
// get_rows_f32.comp — embedding lookup from a f32 matrix (see get_rows.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_f32.glsl"
#include "get_rows.glsl"
