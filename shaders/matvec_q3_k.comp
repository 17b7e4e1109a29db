#version 450
// matvec_q3_k.comp — y = W x with W stored as q3_k (see matvec.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q3_k.glsl"
#include "matvec.glsl"
