#version 450
// get_rows_mxfp4.comp — embedding lookup from a mxfp4 matrix (see get_rows.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_mxfp4.glsl"
#include "get_rows.glsl"
