# API documentation (included by the top Makefile).
#
#   make docs    build/docs/www: the /docs page (docs/index.html), Swagger UI's
#                assets and a copy of docs/openapi.json; `make run` serves
#                it at /docs and /openapi.json (see nginx.conf.example)
#
# Swagger UI comes from the npm registry (swagger-ui-dist, version pinned in
# docs/package.json, integrity in docs/package-lock.json), installed with
# `npm ci` into build/docs; nothing npm installs is committed.  Install
# scripts are not run (swagger-ui-dist's only dependency is an analytics
# hook) and analytics are off.

DOCS_BUILD     := $(BUILD)/docs
DOCS_WWW       := $(DOCS_BUILD)/www
DOCS_UI        := $(DOCS_BUILD)/node_modules/swagger-ui-dist
DOCS_UI_FILES  := swagger-ui.css swagger-ui-bundle.js favicon-32x32.png \
                  favicon-16x16.png LICENSE NOTICE

.PHONY: docs
docs: $(DOCS_WWW)/index.html $(DOCS_WWW)/openapi.json

# `make run` serves the docs too
run: docs

$(DOCS_UI)/package.json: docs/package.json docs/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
	    echo "docs: npm not found; installing Debian's npm" >&2; \
	    [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y --no-install-recommends npm >&2; \
	} || { echo "docs: needs npm (apt-get install npm)" >&2; exit 1; }
	mkdir -p $(DOCS_BUILD)
	cp docs/package.json docs/package-lock.json $(DOCS_BUILD)/
	cd $(DOCS_BUILD) && SCARF_ANALYTICS=false npm ci --ignore-scripts \
	    --no-audit --no-fund --loglevel=error
	@test -f $@ || { echo "docs: npm ci did not install swagger-ui-dist" >&2; exit 1; }
	touch $@

$(DOCS_WWW)/index.html: docs/index.html $(DOCS_UI)/package.json
	mkdir -p $(DOCS_WWW)
	cp $(addprefix $(DOCS_UI)/,$(DOCS_UI_FILES)) $(DOCS_WWW)/
	cp docs/index.html $@.tmp
	mv -f $@.tmp $@

# a syntax check on the way: a broken document never reaches /openapi.json
$(DOCS_WWW)/openapi.json: docs/openapi.json
	mkdir -p $(DOCS_WWW)
	python3 -m json.tool docs/openapi.json >/dev/null
	cp docs/openapi.json $@.tmp
	mv -f $@.tmp $@
