#version 450
// matmul_q6_k.comp — Y = W X with W stored as q6_k, tiled for micro-batches (see matmul.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q6_k.glsl"
#include "matmul.glsl"
