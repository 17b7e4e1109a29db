#version 450
// matvec_q8_0.comp — y = W x with W stored as q8_0 (see matvec.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q8_0.glsl"
#include "matvec.glsl"
