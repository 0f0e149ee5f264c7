# Two commands set up a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint bench install browser ffmpeg lmms docs clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

# The browser test of the web chat page drives the system's Chromium (Debian: `apt-get install chromium`).
browser:
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		(apt-get update && apt-get install -y chromium) || \
		echo "warning: could not install chromium; the browser test will be skipped"

# The torchcodec video backend links against the system's FFmpeg libraries (Debian 12: FFmpeg 5.1).
ffmpeg:
	ldconfig -p | grep -q "libavcodec.so" || \
		(apt-get update && apt-get install -y --no-install-recommends libavcodec59 libavformat59 libavutil57 \
			libswscale6 libswresample4 libavfilter8 libavdevice59) || \
		echo "warning: could not install FFmpeg's libraries; the torchcodec tests will be skipped"

# lmms-eval, for the test of mmbind's lmms-eval model, in an environment layered over $(VENV): lmms-eval pins
# packages (av<16, wandb) that mmbind's own environment keeps newer. Its site-packages come first; a .pth
# line makes $(VENV)'s packages (torch, transformers, ...) visible behind them.
LMMS_VENV := .venv-lmms
LMMS_STAMP := $(LMMS_VENV)/.installed

$(LMMS_STAMP): $(STAMP)
	rm -rf $(LMMS_VENV)
	$(BIN)/python -m venv --without-pip $(LMMS_VENV)
	$(BIN)/python -c "import site; print(site.getsitepackages()[0])" > \
		"$$($(LMMS_VENV)/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/parent_env.pth"
	$(BIN)/pip --python $(LMMS_VENV)/bin/python install -q "lmms-eval==0.7.3" "filelock<4"  # lmms-eval 0.7.3 patches filelock._api (3.x)
	$(BIN)/pip --python $(LMMS_VENV)/bin/python install -q --no-deps --no-build-isolation -e .
	touch $(LMMS_STAMP)

lmms: $(LMMS_STAMP)

# The documentation site (mkdocs.yml, pages in docs/), built strictly: a broken link, anchor or include fails.
# `make test` builds it first, so CI fails on a broken docs build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d site

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/mmbind demo

test: $(STAMP) browser ffmpeg lmms docs
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

test-fast: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	for f in benchmarks/*.py; do HF_HUB_OFFLINE=1 $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) $(LMMS_VENV) build site *.egg-info
