#version 450
// matvec_q4_k.comp — y = W x with W stored as q4_k (see matvec.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_q4_k.glsl"
#include "matvec.glsl"
