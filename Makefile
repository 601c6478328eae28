# Two commands do all the set-up on a fresh machine (see README): `make demo` and `make test`.
# Both create or reuse the virtual environment in .venv/, installed from constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_OUT ?= demo_output

.PHONY: install demo test lint lock browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependency pins change; the package itself is installed editable.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable ".[test]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/activespot demo --out $(DEMO_OUT)

# The browser test drives Debian's chromium (Playwright never downloads a browser); CI runs as root
# on Debian, so install it there when missing. Elsewhere the browser test skips without it.
test: install
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && apt-get install -y -qq chromium; fi
	$(BIN)/ruff check activespot tests benchmarks app.py
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check activespot tests benchmarks app.py
	$(BIN)/ruff format --check activespot tests benchmarks app.py

lock: $(BIN)/python
	$(BIN)/python -m pip freeze --exclude-editable | grep -vi '^activespot' > constraints.txt.new
	@echo "review constraints.txt.new (keep the header comments), then replace constraints.txt"

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache .ruff_cache
