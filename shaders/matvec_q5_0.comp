#version 450
// matvec_q5_0.comp — y = W x with W stored as q5_0 (see matvec.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q5_0.glsl"
#include "matvec.glsl"
