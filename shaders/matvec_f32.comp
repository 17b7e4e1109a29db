#version 450
// matvec_f32.comp — y = W x with W stored as f32 (see matvec.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_f32.glsl"
#include "matvec.glsl"
