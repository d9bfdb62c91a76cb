# The archive's commands. Everything installs itself into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RAW ?= raw
DB ?= bannedbook.db
PORT ?= 8001
STAMP := $(VENV)/.installed

.PHONY: install build serve test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test,bench]'
	touch $(STAMP)

install: $(STAMP)

# Browser tests drive Debian's chromium (Playwright cannot download a browser
# here); CJK fonts so screenshots show the text.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null

build: $(STAMP)
	$(BIN)/python build_db.py $(RAW) $(DB)

# `make serve` builds bannedbook.db when it is missing or older than anything
# under raw/; `make serve DB=FILE` serves FILE as it is.
serve: $(STAMP)
ifneq ($(origin DB),command line)
	@if [ ! -f $(DB) ] || [ -n "$$(find $(RAW) -newer $(DB) -print -quit)" ]; then \
		$(BIN)/python build_db.py $(RAW) $(DB); fi
endif
	$(BIN)/python -m bannedbook.site $(DB) $(PORT)

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) $(CHROMIUM) lint
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) $(DB) .$(DB).building .pytest_cache
