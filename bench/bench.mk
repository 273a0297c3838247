# `make bench`: load benchmarks of the module against the real stack
# (bench/run.sh, bench/README.md).  Not part of `make test`; bounded to
# about 5 minutes; writes bench/results/<date>.md.

BENCH_BIN := $(BUILD)/bench
BENCH_CFLAGS ?= -std=gnu11 -O2 -Wall -Wextra -Werror -pthread

.PHONY: bench bench-tools

$(BENCH_BIN)/argon2_rate: bench/argon2_rate.c
	@mkdir -p $(BENCH_BIN)
	gcc $(BENCH_CFLAGS) $< -largon2 -o $@

bench-tools: $(BENCH_BIN)/argon2_rate

bench: deps
	$(MAKE) build bench-tools
	bench/run.sh
