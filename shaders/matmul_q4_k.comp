#version 450
// matmul_q4_k.comp — Y = W X with W stored as q4_k, tiled for micro-batches (see matmul.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q4_k.glsl"
#include "matmul.glsl"
