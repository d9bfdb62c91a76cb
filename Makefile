# The archive's commands. Everything installs itself into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RAW ?= raw
DB ?= bannedbook.db
PORT ?= 8001
# Lexicons of terms to match (see README): every CSV under lexicons/ unless
# LEXICON=FILE.csv (several separated by spaces; LEXICON= for none).
LEXICON ?= $(wildcard lexicons/*.csv)
LEXICON_ARGS = $(foreach file,$(LEXICON),--lexicon $(file))
STAMP := $(VENV)/.installed

.PHONY: install build serve publish crawl test lint fuzz bench bench-report screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,bench,publish]'
	touch $(STAMP)

install: $(STAMP)

# Browser tests drive Debian's chromium (Playwright cannot download a browser
# here); CJK fonts so screenshots show the text.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null

build: $(STAMP)
	$(BIN)/python build_db.py $(RAW) $(DB) $(LEXICON_ARGS)

# `make serve` brings bannedbook.db up to date with raw/ first (an incremental
# build: it reads only new and changed files, in about a second when there are
# none); `make serve DB=FILE` serves FILE as it is.
serve: $(STAMP)
ifneq ($(origin DB),command line)
	$(BIN)/python build_db.py $(RAW) $(DB) $(LEXICON_ARGS)
endif
	$(BIN)/python -m bannedbook.site $(DB) $(PORT)

# `make publish APP=NAME` deploys what `make serve` serves to Fly.io (needs
# flyctl, logged in) as read-only replicas of one immutable file; with
# GENERATE=DIR it writes the Dockerfile, fly.toml and files to DIR instead.
APP ?= bannedbook-archive
publish: $(STAMP)
ifneq ($(origin DB),command line)
	$(BIN)/python build_db.py $(RAW) $(DB) $(LEXICON_ARGS)
endif
	$(BIN)/python -m bannedbook.publish $(DB) --app $(APP) $(if $(GENERATE),--generate-dir $(GENERATE))

# `make crawl` fetches the site's articles politely into WARC files under
# RAW/crawl/ (robots.txt obeyed, RATE requests/s at most); killed or stopped
# after MAX_PAGES, it goes on where it was when run again. CONTACT (a URL or
# e-mail, sent in the User-Agent so the site's operators can reach whoever
# runs the crawl) is required.
SITE ?= https://www.bannedbook.org/
RATE ?= 1
crawl: $(STAMP)
	$(BIN)/python -m bannedbook.crawl $(SITE) --raw $(RAW) --rate $(RATE) $(if $(MAX_PAGES),--max-pages $(MAX_PAGES)) $(if $(CONTACT),--contact "$(CONTACT)")

lint: $(STAMP)
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

test: $(STAMP) $(CHROMIUM) $(NODE_STAMP) lint
	$(BIN)/python -m pytest -q

# The fuzz tests of `make test`, with far more examples (FUZZ_EXAMPLES=N to change).
FUZZ_EXAMPLES ?= 2000
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q tests/test_fuzz.py

# Every benchmark at 20,000 and 100,000 pages (long: the full builds dominate),
# then docs/benchmarks.md; fails when a benchmark misses a target.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Only rewrite docs/benchmarks.md from the committed benchmarks/results/*.json.
bench-report: $(STAMP)
	$(BIN)/python benchmarks/report.py

# The README's screenshots, taken in chromium from a small built crawl (tests/reader_pages.py).
screenshots: $(STAMP) $(CHROMIUM)
	PYTHONPATH=tests $(BIN)/python docs/screenshots.py

clean:
	rm -rf $(VENV) $(NODE_DIR) $(DB) $(DB).inspect.json .$(DB).building .pytest_cache
