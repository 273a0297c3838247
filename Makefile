# FluentAI nginx module.  `make` builds build/ngx_http_fluentai_module.so
# against Debian's nginx (nginx-dev's /usr/share/nginx/src + conf_flags).

SHELL      := /bin/bash
TOP        := $(abspath .)
BUILD      := $(TOP)/build
NGX_SRC    ?= /usr/share/nginx/src
MODULE     := $(BUILD)/ngx_http_fluentai_module.so
# src/sources.sh is the one list of files (config and fuzz/fuzz.mk too)
sources     = $(shell . $(TOP)/src/sources.sh && echo $$$(1))
PURE_SRCS  := $(call sources,FLUENTAI_PURE_SRCS)
MOD_SRCS   := $(call sources,FLUENTAI_HTTP_SRCS) \
              $(call sources,FLUENTAI_PG_SRCS) $(PURE_SRCS) \
              $(call sources,FLUENTAI_MAIL_SRCS) \
              $(call sources,FLUENTAI_HDRS) src/sources.sh

.PHONY: all build
all: build
build: $(MODULE)

# configure runs once, and again only when `config` changes
$(BUILD)/nginx/objs/Makefile: config src/sources.sh | $(NGX_SRC)/configure
	rm -rf $(BUILD)/nginx && mkdir -p $(BUILD)/nginx
	cp -a $(NGX_SRC)/. $(BUILD)/nginx/
	cd $(BUILD)/nginx && . ./conf_flags && ./configure \
	    "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(TOP) \
	    --builddir=$(BUILD)/nginx/objs > $(BUILD)/configure.log 2>&1 \
	    || { tail -20 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(BUILD)/nginx/objs/Makefile $(MOD_SRCS)
	$(MAKE) -s -C $(BUILD)/nginx -f objs/Makefile modules
	cp $(BUILD)/nginx/objs/ngx_http_fluentai_module.so $@.tmp
	mv -f $@.tmp $@

# ---------------------------------------------------------------------------
# Development targets: deps, unit, test, migrate, run, clean.
# `make test` = deps + build + unit tests + nginx suites (t/run-suites).
# TEST_NGINX_* variables (USE_VALGRIND, USE_HUP, ...) pass through the
# environment to the suites.

UNIT_LIB_SRCS := $(PURE_SRCS)
UNIT_TESTS    := $(wildcard t/unit/*_test.c)
UNIT_BINS     := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_TESTS))
UNIT_CFLAGS   ?= -std=gnu99 -Wall -Wextra -Werror -g
UNIT_LIBS     := -ljansson -lcrypto -largon2 -lcrypt

.PHONY: deps unit test migrate run clean

deps:
	@scripts/deps.sh

$(BUILD)/unit/%: t/unit/%.c t/unit/unit.h $(UNIT_LIB_SRCS) $(wildcard src/*.h)
	@mkdir -p $(BUILD)/unit
	gcc $(UNIT_CFLAGS) -Isrc $< $(UNIT_LIB_SRCS) $(UNIT_LIBS) -o $@

unit: $(UNIT_BINS)
ifeq ($(strip $(UNIT_TESTS)),)
	@echo "unit: no t/unit/*_test.c yet; skipping"
else
	prove --exec '' $(UNIT_BINS)
endif

test: deps
	@if [ -n "$(TEST_PGBOUNCER)" ]; then scripts/deps.sh ha; fi
	$(MAKE) build
	$(MAKE) unit
	$(MAKE) fuzz-regress
	t/run-suites

# Beyond one machine: the failover suite on a real Patroni cluster (etcd,
# two PostgreSQL members, started by the suite on loopback); the PgBouncer
# variant is `make test TEST_PGBOUNCER=1` (t/run-suites).
.PHONY: test-ha
test-ha:
	@scripts/deps.sh ha
	$(MAKE) build
	t/run-suites t/ha/patroni.t

migrate:
	@scripts/run.sh migrate

run: deps
	$(MAKE) build
	@scripts/run.sh run

clean:
	rm -rf $(BUILD) t/servroot*

# Debian package (debian/, dh_nginx): `make deb` builds
# build/deb/libnginx-mod-http-fluentai_*.deb out of tree (scripts/deb.sh);
# `make test-package` installs it on this machine, serves a request through
# the system nginx binary and purges it again (t/package.sh; root).
.PHONY: deb test-package
deb: deps
	@scripts/deb.sh

test-package: deps
	t/package.sh "$$(scripts/deb.sh)"

# Targets that live with their own files.
include $(wildcard bench/bench.mk fuzz/fuzz.mk docs/docs.mk t/browser/browser.mk)
