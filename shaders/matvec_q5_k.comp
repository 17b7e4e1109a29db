#version 450
// matvec_q5_k.comp — y = W x with W stored as q5_k (see matvec.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q5_k.glsl"
#include "matvec.glsl"
