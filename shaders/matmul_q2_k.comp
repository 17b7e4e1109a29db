#version 450
// matmul_q2_k.comp — Y = W X with W stored as q2_k, tiled for micro-batches (see matmul.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q2_k.glsl"
#include "matmul.glsl"
