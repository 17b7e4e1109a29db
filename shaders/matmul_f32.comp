#version 450
// matmul_f32.comp — Y = W X with W stored as f32, tiled for micro-batches (see matmul.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_f32.glsl"
#include "matmul.glsl"
