#version 450
// out_of_bounds.comp — a deliberately wrong kernel for tests/test_vulkan_gpuav.c: each
// invocation writes y[i + shift] for i < count, past the end of the buffer the test binds
// (64 floats). GPU-assisted validation must report the writes past its end (the buffer sits
// at the start of a larger allocation, so nothing real is overwritten when the layer is
// off and the kernel runs unchecked).
layout(local_size_x_id = 0) in;
layout(binding = 0, std430) writeonly buffer Ybuf { float y[]; };
layout(push_constant) uniform Push { uint count, shift; } pc;

void main() {
    uint i = gl_GlobalInvocationID.x;
    if (i < pc.count) y[i + pc.shift] = float(i);
}
