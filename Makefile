# One command to set up and train, one to set up and test. Each creates .venv and installs the project first;
# `make test` also installs Debian's Chromium (apt-get, as root or through sudo) if /usr/bin/chromium is missing.
#   make train DATASET=path/to/imdb      (DATASET defaults to the Hub id stanfordnlp/imdb)
#   make test IMDB_DATASET=path/to/imdb MINILM_PATH=path/to/all-MiniLM-L6-v2 SST2_DATASET=path/to/sst2 \
#       TWEET_DATASET=path/to/tweet_eval_sentiment
#   make style   (formats and fixes what the linter can)
#   make check   (fails on any format or lint finding, or on an import against the packages' layers: pyproject.toml)
PYTHON ?= python3
VENV ?= .venv
# A CPU build of PyTorch; GPU users set e.g. TORCH="torch --index-url https://download.pytorch.org/whl/cu126".
TORCH ?= torch==2.13.0
DATASET ?= stanfordnlp/imdb
IMDB_DATASET ?= stanfordnlp/imdb
# The pretrained encoder the verbalizer's tests read (a Hub id or a local folder).
MINILM_PATH ?= sentence-transformers/all-MiniLM-L6-v2
# The datasets of the bring-your-own-data tests; without TWEET_DATASET, the Hub's tweet_eval (configuration sentiment).
SST2_DATASET ?= stanfordnlp/sst2
TWEET_DATASET ?=

.PHONY: setup train test browser style check

setup: $(VENV)/.installed

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --upgrade pip
	$(VENV)/bin/python -m pip install $(TORCH)
	$(VENV)/bin/python -m pip install -e ".[dev]"
	touch $@

train: setup
	$(VENV)/bin/python scripts/train.py configs/lstm.yaml --dataset_name $(DATASET)

# The demo's browser test drives Debian's Chromium; Playwright cannot download a browser of its own here.
CHROMIUM ?= /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

browser: $(CHROMIUM)

$(CHROMIUM):
	$(SUDO) apt-get update -q
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium

test: setup browser
	IMDB_DATASET=$(IMDB_DATASET) MINILM_PATH=$(MINILM_PATH) SST2_DATASET=$(SST2_DATASET) \
		TWEET_DATASET=$(TWEET_DATASET) $(VENV)/bin/python -m pytest

style: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
