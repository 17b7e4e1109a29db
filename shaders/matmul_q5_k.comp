#version 450
// matmul_q5_k.comp — Y = W X with W stored as q5_k, tiled for micro-batches (see matmul.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q5_k.glsl"
#include "matmul.glsl"
