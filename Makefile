# FluentAI nginx module.  `make` builds build/ngx_http_fluentai_module.so
# against Debian's nginx (nginx-dev's /usr/share/nginx/src + conf_flags).

SHELL      := /bin/bash
TOP        := $(abspath .)
BUILD      := $(TOP)/build
NGX_SRC    ?= /usr/share/nginx/src
MODULE     := $(BUILD)/ngx_http_fluentai_module.so
MOD_SRCS   := ngx_http_fluentai_module.c $(wildcard src/*.c src/*.h)

.PHONY: all build
all: build
build: $(MODULE)

# configure runs once, and again only when `config` changes
$(BUILD)/nginx/objs/Makefile: config | $(NGX_SRC)/configure
	rm -rf $(BUILD)/nginx && mkdir -p $(BUILD)/nginx
	cp -a $(NGX_SRC)/. $(BUILD)/nginx/
	cd $(BUILD)/nginx && . ./conf_flags && ./configure \
	    "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(TOP) \
	    --builddir=$(BUILD)/nginx/objs > $(BUILD)/configure.log 2>&1 \
	    || { tail -20 $(BUILD)/configure.log; exit 1; }

$(MODULE): $(BUILD)/nginx/objs/Makefile $(MOD_SRCS)
	$(MAKE) -s -C $(BUILD)/nginx -f objs/Makefile modules
	cp $(BUILD)/nginx/objs/ngx_http_fluentai_module.so $@
