#version 450
// matvec_q5_1.comp — y = W x with W stored as q5_1 (see matvec.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q5_1.glsl"
#include "matvec.glsl"
