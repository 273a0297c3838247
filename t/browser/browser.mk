# Real-browser test (included by the top Makefile).
#
#   make test-browser   Debian's chromium, headless, driven by puppeteer-core
#                       (t/browser/browser-test.js): a page on another origin
#                       calls the API of the `make run` stack, /docs "Try it
#                       out"; output in build/browser/out
#
# puppeteer-core comes from the npm registry (version pinned in
# t/browser/package.json, integrity in t/browser/package-lock.json),
# installed with `npm ci` into build/browser; it never downloads a browser.
# `scripts/deps.sh browser` installs chromium (and npm if there is none).

BROWSER_BUILD := $(BUILD)/browser
BROWSER_PPTR  := $(BROWSER_BUILD)/node_modules/puppeteer-core/package.json

.PHONY: test-browser
test-browser:
	@scripts/deps.sh browser
	$(MAKE) build docs $(BROWSER_PPTR)
	node t/browser/browser-test.js

$(BROWSER_PPTR): t/browser/package.json t/browser/package-lock.json
	mkdir -p $(BROWSER_BUILD)
	cp t/browser/package.json t/browser/package-lock.json $(BROWSER_BUILD)/
	cd $(BROWSER_BUILD) && npm ci --ignore-scripts --no-audit --no-fund \
	    --loglevel=error
	@test -f $@ || { echo "test-browser: npm ci did not install" \
	    "puppeteer-core" >&2; exit 1; }
	touch $@
