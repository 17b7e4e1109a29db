#version 450
// matmul_mxfp4.comp — Y = W X with W stored as mxfp4, tiled for micro-batches (see matmul.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_mxfp4.glsl"
#include "matmul.glsl"
