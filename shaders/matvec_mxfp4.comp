#version 450
// matvec_mxfp4.comp — y = W x with W stored as mxfp4 (see matvec.glsl).
#include "common.glsl"
#include "weights.glsl"
#include "dequant_mxfp4.glsl"
#include "matvec.glsl"
