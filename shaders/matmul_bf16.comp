#version 450
// matmul_bf16.comp — Y = W X with W stored as bf16, tiled for micro-batches (see matmul.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_bf16.glsl"
#include "matmul.glsl"
