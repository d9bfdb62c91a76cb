# The archive's commands (`make help` lists them). Everything installs itself
# into .venv; each target calls the `bannedbook` command line, where the
# defaults live.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BANNEDBOOK := $(BIN)/bannedbook
RAW ?= raw
DB ?= bannedbook.db
PORT ?= 8001
# Lexicons of terms to match (see README): every CSV under lexicons/ unless
# LEXICON=FILE.csv (several separated by spaces; LEXICON= for none).
LEXICON_ARGS = $(if $(filter undefined,$(origin LEXICON)),,$(if $(strip $(LEXICON)),$(foreach file,$(LEXICON),--lexicon $(file)),--no-lexicon))
# SITES=HOST,... keeps pages of other hosts too; PRUNE=1 allows a build that
# removes more than half of the archive (an empty or mistyped RAW refuses).
BUILD_ARGS = $(LEXICON_ARGS) $(foreach host,$(subst $(comma), ,$(SITES)),--site $(host)) $(if $(PRUNE),--prune)
comma := ,
STAMP := $(VENV)/.installed

.PHONY: help install build serve publish crawl backfill test lint fuzz bench bench-report screenshots clean

help: ## list the targets
	@echo "make TARGET [NAME=value ...]   (see README.md)"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  \1\t\2/' | expand -t 16

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,bench,publish]'
	touch $(STAMP)

install: $(STAMP) ## install what the archive needs into .venv

# Browser tests drive Debian's chromium (Playwright cannot download a browser
# here); CJK fonts so screenshots show the text.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null

build: $(STAMP) ## build DB (bannedbook.db) from RAW (raw/) [LEXICON= SITES= PRUNE=1]
	$(BANNEDBOOK) build $(RAW) $(DB) $(BUILD_ARGS)

# `make serve` brings bannedbook.db up to date with raw/ first (an incremental
# build: it reads only new and changed files, in about a second when there are
# none); `make serve DB=FILE` serves FILE as it is.
serve: $(STAMP) ## build if stale, then serve on http://127.0.0.1:PORT (DB=FILE: serve FILE as it is)
ifneq ($(origin DB),command line)
	$(BANNEDBOOK) build $(RAW) $(DB) $(BUILD_ARGS)
endif
	$(BANNEDBOOK) serve $(DB) --port $(PORT)

# `make publish APP=NAME` deploys what `make serve` serves to Fly.io (needs
# flyctl, logged in) as read-only replicas of one immutable file; with
# GENERATE=DIR it writes the Dockerfile, fly.toml and files to DIR instead.
APP ?= bannedbook-archive
publish: $(STAMP) ## deploy the site to Fly.io as APP (GENERATE=DIR: only write its files)
ifneq ($(origin DB),command line)
	$(BANNEDBOOK) build $(RAW) $(DB) $(BUILD_ARGS)
endif
	$(BANNEDBOOK) publish $(DB) --app $(APP) $(if $(GENERATE),--generate-dir $(GENERATE))

# `make crawl` fetches the site's articles politely into WARC files under
# RAW/crawl/ (robots.txt obeyed, RATE requests/s at most); killed or stopped
# after MAX_PAGES, it goes on where it was when run again. CONTACT (a URL or
# e-mail, sent in the User-Agent so the site's operators can reach whoever
# runs the crawl) is required.
SITE ?= https://www.bannedbook.org/
RATE ?= 1
crawl: $(STAMP) ## fetch the site into RAW/crawl/*.warc.gz (CONTACT= required; a million pages at RATE=1 take 12 days)
	$(BANNEDBOOK) crawl $(SITE) --raw $(RAW) --rate $(RATE) $(if $(MAX_PAGES),--max-pages $(MAX_PAGES)) $(if $(CONTACT),--contact "$(CONTACT)")

# `make backfill` fetches what the web archives hold of the site's articles
# (FROM=ia,cc: the Internet Archive and Common Crawl, or FROM=URL: a pywb
# collection) into RAW/backfill/, each capture with its original date and
# where it came from; SINCE=/UNTIL= bound the capture times, MAX= the
# captures fetched. Then `make crawl` fetches only what the archives lack.
FROM ?= ia,cc
backfill: $(STAMP) ## the web archives' captures into RAW/backfill/*.warc.gz (CONTACT= required; FROM=ia,cc|URL)
	$(BANNEDBOOK) backfill $(SITE) --from "$(FROM)" --raw $(RAW) --rate $(RATE) $(if $(SINCE),--since $(SINCE)) $(if $(UNTIL),--until $(UNTIL)) $(if $(MAX),--max $(MAX)) $(if $(CONTACT),--contact "$(CONTACT)")

lint: $(STAMP) ## ruff
	$(BIN)/ruff check .

# citation-js, pinned by tests/citationjs/package-lock.json, in .node/: the
# tests read the RIS and BibTeX exports back with it as well (they skip that
# check, saying so, where node or the package is missing).
NODE_DIR := .node
NODE_STAMP := $(NODE_DIR)/.installed
$(NODE_STAMP): tests/citationjs/package.json tests/citationjs/package-lock.json
	mkdir -p $(NODE_DIR) && cp tests/citationjs/package.json tests/citationjs/package-lock.json $(NODE_DIR)/
	if ! command -v npm >/dev/null; then echo "npm not found: the citation-js checks will be skipped"; \
	elif npm ci --silent --no-audit --no-fund --prefix $(NODE_DIR); then touch $(NODE_STAMP); \
	else echo "citation-js could not be installed: its checks will be skipped"; fi

# pywb, the Wayback the backfill's tests run on 127.0.0.1, in a venv of its
# own: it needs brotlipy, which would shadow the build's brotli in .venv.
PYWB_VENV := .venv-pywb
PYWB := $(PYWB_VENV)/bin/wayback
$(PYWB): tests/pywb-requirements.txt
	test -x $(PYWB_VENV)/bin/python || $(PYTHON) -m venv $(PYWB_VENV)
	$(PYWB_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/pywb-requirements.txt
	touch $(PYWB)

test: $(STAMP) $(CHROMIUM) $(NODE_STAMP) $(PYWB) lint ## the whole test suite, browser tests included (about 3 minutes)
	@echo "make test: the whole suite, about 3 minutes on 2 cores (quick loop: .venv/bin/pytest -m 'not browser')"
	$(BIN)/python -m pytest -q

# The fuzz tests of `make test`, with far more examples (FUZZ_EXAMPLES=N to change).
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP) ## the fuzz tests with FUZZ_EXAMPLES (2000) examples (a few minutes)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q tests/test_fuzz.py

# Every benchmark at 20,000 and 100,000 pages (long: the full builds dominate),
# then docs/benchmarks.md; fails when a benchmark misses a target.
bench: $(STAMP) $(PYWB) ## every benchmark at 20,000 and 100,000 pages, then docs/benchmarks.md (over an hour)
	@echo "make bench: every benchmark at 20,000 and 100,000 pages; over an hour on 2 cores"
	$(BIN)/python benchmarks/run.py

# Only rewrite docs/benchmarks.md from the committed benchmarks/results/*.json.
bench-report: $(STAMP) ## rewrite docs/benchmarks.md from benchmarks/results/
	$(BIN)/python benchmarks/report.py

# The README's screenshots, taken in chromium from a small built crawl (tests/helpers/reader_pages.py).
screenshots: $(STAMP) $(CHROMIUM) ## the README's screenshots
	PYTHONPATH=tests $(BIN)/python docs/screenshots.py

clean: ## remove .venv, .venv-pywb, .node and the built database
	rm -rf $(VENV) $(PYWB_VENV) $(NODE_DIR) $(DB) $(DB).inspect.json .$(DB).building .pytest_cache
