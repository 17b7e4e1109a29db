#version 450
// matmul_q5_0.comp — Y = W X with W stored as q5_0, tiled for micro-batches (see matmul.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q5_0.glsl"
#include "matmul.glsl"
