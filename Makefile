# Two commands set everything up on a fresh machine:
#   make run    install into .venv (once) and run the bot on its embedded default (SQLite, console alerts)
#   make test   install into .venv (once) and run the whole test suite
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTHON ?= python3

.PHONY: run test demo bench lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# CPU torch first: otherwise sentence-transformers pulls a CUDA build of several GB.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/threatwatch run

demo: $(STAMP)
	$(VENV)/bin/threatwatch demo

test: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(VENV)/bin/pytest -q

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) bench/ingest.py

lint: $(STAMP)
	$(VENV)/bin/ruff check bot tests bench testkit
	$(VENV)/bin/mypy bot testkit

clean:
	rm -rf $(VENV) build *.egg-info
