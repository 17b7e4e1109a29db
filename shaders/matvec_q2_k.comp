#version 450
// matvec_q2_k.comp — y = W x with W stored as q2_k (see matvec.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q2_k.glsl"
#include "matvec.glsl"
