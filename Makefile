# llmscope — build, test, run, bench, install.
#
# Sources are picked up by folder, so adding a file needs no edit here:
#   model/*.c compute/*.c ui/*/*.c -> the program (ui/cli/main.c holds main()); ui/ is
#                                   tui/ (the terminal app), cli/ (the command-line
#                                   tools), net/ (downloads)
#   shaders/*.comp                -> SPIR-V (glslc), embedded in the binary
#   shaders/types.def             -> the per-type kernels (generated wrappers, see below)
#   tests/test_*.c                -> one test binary each, run by tests/run.sh
#   tests/shaders/*.comp          -> SPIR-V embedded in the test binaries only (TEST_SPIRV_BLOBS)
# BUILD selects the output folder; the sanitizer build lives in build-asan/.

CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
GLSLC   ?= glslc
# SPIR-V 1.3 (Vulkan 1.1 rules): every driver llmscope runs on takes it, and it is what the
# validation layer Debian ships (1.3.239) can instrument for GPU-assisted validation; with
# 1.5 modules that layer silently runs the kernels unchecked.
SPV_TARGET := --target-env=vulkan1.1
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
OPT     ?= -O2 -g
CFLAGS  += $(CSTD) $(WARN) $(OPT) -I. -Imodel -Icompute -Iui/tui -Iui/cli -Iui/net -I$(BUILD)/gen -MMD -MP
LDLIBS  += -lncursesw -lpcre2-8 -lutf8proc -lcjson -lcurl -lcrypto -lpng -lm -lpthread

SRC_LIB := $(sort $(wildcard model/*.c compute/*.c ui/*/*.c))
SRC_LIB := $(filter-out ui/cli/main.c,$(SRC_LIB))
OBJ_LIB := $(SRC_LIB:%.c=$(BUILD)/%.o) $(BUILD)/gen/shaders_table.o $(BUILD)/gen/shaders_blob.o
# The kernels that read a weight matrix exist once per storage type: for every type in
# shaders/types.def, a wrapper that includes the kernel on that type's dequant file is
# generated into $(BUILD)/gen/shaders (names in lower case: matvec_q4_k.comp, ...).
GPU_TYPES     := $(shell sed -n 's/^GPU_TYPE.\([A-Z0-9_]*\),.*/\1/p' shaders/types.def | tr A-Z a-z)
TYPED_KERNELS := matvec matmul get_rows
TYPED_COMP    := $(foreach k,$(TYPED_KERNELS),$(GPU_TYPES:%=$(BUILD)/gen/shaders/$(k)_%.comp))
SHADERS := $(sort $(wildcard shaders/*.comp))
SHADER_NAMES := $(sort $(SHADERS:shaders/%.comp=%) $(notdir $(TYPED_COMP:.comp=)))
SPV     := $(SHADER_NAMES:%=$(BUILD)/spv/%.spv)
TYPED_SPV := $(TYPED_COMP:$(BUILD)/gen/shaders/%.comp=$(BUILD)/spv/%.spv)
TESTS   := $(sort $(wildcard tests/test_*.c))
TEST_BIN:= $(TESTS:tests/%.c=$(BUILD)/tests/%)
TEST_SHADERS := $(sort $(wildcard tests/shaders/*.comp))
TEST_SPV := $(TEST_SHADERS:tests/shaders/%.comp=$(BUILD)/tests/spv/%.spv)
TEST_OBJ := $(BUILD)/gen/test_shaders_table.o $(BUILD)/gen/test_shaders_blob.o
BIN     := $(BUILD)/llmscope

# Tests that also run under AddressSanitizer + UndefinedBehaviorSanitizer in `make test`
# (CPU-only ones: the Vulkan driver itself is not sanitizer-clean).
SANITIZE_TESTS ?= $(foreach t,$(notdir $(TEST_BIN)),$(if $(findstring vulkan,$t),,$t))

.PHONY: all test check asan run bench install uninstall clean shaders gpu-check FORCE
all: $(BIN) llmscope

llmscope: $(BIN)
	@ln -sf $(BIN) llmscope

$(BIN): $(BUILD)/ui/cli/main.o $(BUILD)/libllmscope.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libllmscope.a: $(OBJ_LIB)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%.o: %.c | $(BUILD)/gen/shaders_table.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

# The CPU engine's matrix products (and DeltaNet's effective weights) are plain C written
# for the vectoriser, which at -O2 takes only the cheapest loops (same results either
# way: no -ffast-math).
$(BUILD)/model/ops_fast.o $(BUILD)/model/deltanet_fast.o: CFLAGS += -O3

# qdot.h's kernels: one file per x86-64 instruction set, compiled for it; qdot.c picks the
# widest the processor has when it runs (one binary for every x86-64). Other processors
# build the plain C kernels only (the x86 files compile to nothing there).
# A compiler that knows AMX (GCC 11, Clang 12 and later) also builds its tile kernels into
# the AVX-512 file; they run only where the processor and the kernel allow them.
ifneq (,$(findstring x86_64,$(shell $(CC) -dumpmachine)))
AMX_FLAGS := $(shell echo | $(CC) -mamx-tile -mamx-int8 -E -x c - >/dev/null 2>&1 && echo -mamx-tile -mamx-int8)
$(BUILD)/model/qdot_avx2.o: CFLAGS += -O3 -mavx2 -mfma -mf16c
$(BUILD)/model/qdot_avx512.o: CFLAGS += -O3 -mavx2 -mfma -mf16c -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni $(AMX_FLAGS)
endif
$(BUILD)/model/qdot_plain.o: CFLAGS += -O3

$(BUILD)/tests/%: tests/%.c $(BUILD)/libllmscope.a $(TEST_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(TEST_OBJ) $(BUILD)/libllmscope.a $(LDLIBS)

# --- shaders: GLSL -> SPIR-V -> an assembler file that .incbin's each blob, plus a table.
TO_SPV = $(GLSLC) $(SPV_TARGET) -O -Ishaders -o $@ $<
# The compiler command line, rewritten only when it changes: every blob depends on it, so
# a new target environment recompiles them (a stale SPIR-V 1.5 blob fails validation).
SPV_FLAGS := $(BUILD)/gen/glslc.flags
$(SPV_FLAGS): FORCE
	@mkdir -p $(dir $@)
	@echo '$(GLSLC) $(SPV_TARGET) -O' | cmp -s - $@ || echo '$(GLSLC) $(SPV_TARGET) -O' > $@
FORCE:

$(BUILD)/spv/%.spv: shaders/%.comp $(wildcard shaders/*.glsl) $(SPV_FLAGS)
	@mkdir -p $(dir $@)
	$(TO_SPV)

$(TYPED_SPV): $(BUILD)/spv/%.spv: $(BUILD)/gen/shaders/%.comp $(wildcard shaders/*.glsl) $(SPV_FLAGS)
	@mkdir -p $(dir $@)
	$(TO_SPV)

# KERNEL_t.comp for type suffix t: the kernel shaders/KERNEL.glsl on shaders/dequant_t.glsl.
define typed_kernel_wrapper
$(BUILD)/gen/shaders/$(1)_%.comp: shaders/types.def
	@mkdir -p $$(dir $$@)
	@printf '%s\n' '#version 450' \
	   '// generated by the Makefile from shaders/types.def: shaders/$(1).glsl on $$* weights' \
	   '#include "common.glsl"' '#include "weights.glsl"' '#include "dequant_$$*.glsl"' \
	   '#include "$(1).glsl"' > $$@
endef
$(foreach k,$(TYPED_KERNELS),$(eval $(call typed_kernel_wrapper,$(k))))

# blob_asm PREFIX SPV...: an assembler file that .incbin's each blob as PREFIX_NAME.
blob_asm = { echo '.section .rodata'; \
	   for f in $(2); do n=$(1)_$$(basename $$f .spv); \
	     echo ".global $$n"; echo ".global $${n}_end"; echo ".balign 4"; \
	     echo "$$n:"; echo ".incbin \"$$f\""; echo "$${n}_end:"; done; \
	   echo '.section .note.GNU-stack,"",@progbits'; }
# blob_table PREFIX TABLE NAMES...: the table naming each blob.
blob_table = { echo '/* generated by the Makefile from NAME.comp files and shaders/types.def */'; \
	   echo '\#include "compute/spirv_blobs.h"'; \
	   for n in $(3); do \
	     echo "extern const unsigned char $(1)_$$n[], $(1)_$${n}_end[];"; done; \
	   echo 'const spirv_blob $(2)[] = {'; \
	   for n in $(3); do \
	     echo "    {\"$$n\", $(1)_$$n, $(1)_$${n}_end},"; done; \
	   echo '    {0, 0, 0}};'; }

$(BUILD)/gen/shaders_blob.S: $(SPV)
	@mkdir -p $(dir $@)
	@$(call blob_asm,spv,$(SPV)) > $@

$(BUILD)/gen/shaders_table.c: $(SHADERS) shaders/types.def
	@mkdir -p $(dir $@)
	@$(call blob_table,spv,SPIRV_BLOBS,$(SHADER_NAMES)) > $@

# Test-only kernels (a deliberately out-of-bounds one for GPU-assisted validation).
$(BUILD)/tests/spv/%.spv: tests/shaders/%.comp $(SPV_FLAGS)
	@mkdir -p $(dir $@)
	$(GLSLC) $(SPV_TARGET) -O -Ishaders -o $@ $<

$(BUILD)/gen/test_shaders_blob.S: $(TEST_SPV)
	@mkdir -p $(dir $@)
	@$(call blob_asm,test_spv,$(TEST_SPV)) > $@

$(BUILD)/gen/test_shaders_table.c: $(TEST_SHADERS)
	@mkdir -p $(dir $@)
	@$(call blob_table,test_spv,TEST_SPIRV_BLOBS,$(TEST_SHADERS:tests/shaders/%.comp=%)) > $@

$(BUILD)/gen/test_shaders_table.o: $(BUILD)/gen/test_shaders_table.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/gen/test_shaders_blob.o: $(BUILD)/gen/test_shaders_blob.S
	$(CC) -c -o $@ $<

$(BUILD)/gen/shaders_table.o: $(BUILD)/gen/shaders_table.c
	$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/gen/shaders_blob.o: $(BUILD)/gen/shaders_blob.S
	$(CC) -c -o $@ $<

shaders: $(SPV)

# --- tests: the whole suite, then the sanitizer build of the CPU tests, one summary line.
test: all $(TEST_BIN)
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=address,undefined" $(addprefix build-asan/tests/,$(SANITIZE_TESTS)) >/dev/null
	@tests/run.sh $(BUILD) "build-asan:$(SANITIZE_TESTS)"

check: test

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" LDFLAGS="-fsanitize=address,undefined" all

# --- running: the shipped model (assets/) unless MODEL= or LLMSCOPE_MODEL names another.
MODEL ?=
run: all
	./$(BIN) $(if $(MODEL),-m $(MODEL))

bench: all
	tests/bench.sh $(BIN)

# --- the GPU machine: pack .gpu/ here, then run everything there in one call
# (tests/gpu_check.sh; without a GPU, as here, the run step says so and fails).
GPU_TESTS := $(addprefix $(BUILD)/tests/,test_vulkan_sync test_vulkan_ops test_vulkan_forward test_vulkan_session)
gpu-check: all $(GPU_TESTS)
	tests/gpu_check.sh pack $(BUILD)
	tests/gpu_check.sh run

install: all
	install -Dm755 $(BIN) $(DESTDIR)$(PREFIX)/bin/llmscope
	install -Dm644 docs/llmscope.1 $(DESTDIR)$(PREFIX)/share/man/man1/llmscope.1
	if [ -f assets/llmscope-dict.gguf ]; then \
		install -Dm644 assets/llmscope-dict.gguf $(DESTDIR)$(PREFIX)/share/llmscope/llmscope-dict.gguf; \
		install -Dm644 assets/WORDNET-LICENSE $(DESTDIR)$(PREFIX)/share/llmscope/WORDNET-LICENSE; fi
	if [ -f assets/llmscope-dict.detector.json ]; then \
		install -Dm644 assets/llmscope-dict.detector.json $(DESTDIR)$(PREFIX)/share/llmscope/llmscope-dict.detector.json; fi

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/llmscope $(DESTDIR)$(PREFIX)/share/man/man1/llmscope.1
	rm -rf $(DESTDIR)$(PREFIX)/share/llmscope

clean:
	rm -rf build build-asan llmscope .gpu

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
