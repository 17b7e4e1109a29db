#version 450
// matmul_q4_1.comp — Y = W X with W stored as q4_1, tiled for micro-batches (see matmul.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q4_1.glsl"
#include "matmul.glsl"
