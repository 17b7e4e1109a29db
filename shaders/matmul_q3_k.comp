#version 450
// matmul_q3_k.comp — Y = W X with W stored as q3_k, tiled for micro-batches (see matmul.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q3_k.glsl"
#include "matmul.glsl"
