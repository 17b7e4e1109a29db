// iq4_levels.glsl — the sixteen levels of IQ4_NL and IQ4_XS (IQ4_LEVELS in model/quant.h,
// a constant of the format): a 4-bit index in the file selects one, and the element is
// the (sub-)block's scale times that level.
const float IQ4_LEVELS[16] = float[16](-127.0, -104.0, -83.0, -65.0, -49.0, -35.0, -22.0, -10.0,
                                       1.0, 13.0, 25.0, 38.0, 53.0, 69.0, 89.0, 113.0);
