# Two commands on a fresh machine with only python3:
#   make book   - execute every chapter (PROFILE=default) and build _build/html
#   make test   - run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= default
CHAPTER ?=
STAMP := $(VENV)/.installed

export MPLCONFIGDIR ?= $(CURDIR)/.cache/matplotlib

.PHONY: book test install clean

install: $(STAMP)

# (Re)install when the dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --editable '.[test]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

book: $(STAMP)
	$(BIN)/imgleak book --profile $(PROFILE) $(if $(CHAPTER),--chapter $(CHAPTER))

test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf _build book/chapters .cache
