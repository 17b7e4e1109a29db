#version 450
// matvec_bf16.comp — y = W x with W stored as bf16 (see matvec.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_bf16.glsl"
#include "matvec.glsl"
