#version 450
// matvec_q6_k.comp — y = W x with W stored as q6_k (see matvec.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q6_k.glsl"
#include "matvec.glsl"
