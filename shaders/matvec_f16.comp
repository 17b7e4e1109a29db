#version 450
// matvec_f16.comp — y = W x with W stored as f16 (see matvec.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_f16.glsl"
#include "matvec.glsl"
