# libFuzzer targets for the module's pure-C parsers (no nginx needed).
#   make fuzz            build, then fuzz each target FUZZ_SECONDS (60)
#                        on a copy of its seed corpus fuzz/corpus/<name>/
#   make fuzz-regress    build, then run each target once over its corpus
#   make fuzz-build      build only (build/fuzz/fuzz_<name>)
# See fuzz/README.md.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS  ?= -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all -Wall -Wextra
FUZZ_BUILD   := $(BUILD)/fuzz
FUZZ_TARGETS := json jwt bearer refresh argon2_parse mail json_out jwt_fast

# every target links the pure-C sources (src/sources.sh, as the Makefile)
FUZZ_SRCS    := $(PURE_SRCS)
FUZZ_LIBS    := -ljansson -lcrypto -largon2 -lcrypt

FUZZ_BINS := $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))

.PHONY: fuzz fuzz-regress fuzz-build fuzz-deps

fuzz-deps:
	@fuzz/deps.sh

define FUZZ_RULE
$(FUZZ_BUILD)/fuzz_$(1): fuzz/fuzz_$(1).c fuzz/fuzz_common.h \
        $(FUZZ_SRCS) $(wildcard src/*.h) | fuzz-deps
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Isrc $$< $(FUZZ_SRCS) $(FUZZ_LIBS) -o $$@
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_RULE,$(t))))

fuzz-build: $(FUZZ_BINS)

fuzz: $(FUZZ_BINS)
	@fuzz/run.sh fuzz $(FUZZ_SECONDS) $(FUZZ_BUILD) $(FUZZ_TARGETS)

fuzz-regress: $(FUZZ_BINS)
	@fuzz/run.sh regress $(FUZZ_BUILD) $(FUZZ_TARGETS)
