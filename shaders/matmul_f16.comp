#version 450
// matmul_f16.comp — Y = W X with W stored as f16, tiled for micro-batches (see matmul.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_f16.glsl"
#include "matmul.glsl"
