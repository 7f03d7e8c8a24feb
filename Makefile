# Two commands on a fresh machine with only python3:
#   make book   - execute every chapter (PROFILE=default), side by side (JOBS=cores), and build _build/html
#   make test   - run the test suite
# Both install from requirements.lock (exact versions with hashes, Linux x86_64, CPython 3.11).
#   make lock         - regenerate requirements.lock from pyproject.toml (uv pip compile)
#   make test-latest  - the suite in .venv-latest, with the newest releases pyproject.toml allows
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= default
CHAPTER ?=
JOBS ?=
STAMP := $(VENV)/.installed
LOCK := requirements.lock
LOCK_PYTHON := 3.11
UV_VERSION := 0.13.10

export MPLCONFIGDIR ?= $(CURDIR)/.cache/matplotlib

.PHONY: book test install lock test-latest clean

install: $(STAMP)

# (Re)install when the lock or the project's metadata change. The lock pins every package with
# its hashes; the project itself is installed on top of it without resolving anything.
$(STAMP): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; sys.exit(0 if v == "$(LOCK_PYTHON)" else "$(LOCK) is for CPython $(LOCK_PYTHON); $(PYTHON) is " + v + ". Run make PYTHON=python$(LOCK_PYTHON) ..., or make test-latest to install from the ranges in pyproject.toml.")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation --editable .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

book: $(STAMP)
	$(BIN)/imgleak book --profile $(PROFILE) $(if $(CHAPTER),--chapter $(CHAPTER)) $(if $(JOBS),--jobs $(JOBS))

test: $(STAMP)
	$(BIN)/python -m pytest

# uv resolves for the lock's platform whatever machine runs it; hashes come from PyPI.
lock:
	test -x .cache/uv/bin/uv || ($(PYTHON) -m venv .cache/uv && .cache/uv/bin/python -m pip install --quiet uv==$(UV_VERSION))
	.cache/uv/bin/uv pip compile pyproject.toml --extra test --generate-hashes --quiet \
	    --python-version $(LOCK_PYTHON) --python-platform x86_64-manylinux_2_28 \
	    --index-url https://pypi.org/simple --custom-compile-command 'make lock' --output-file $(LOCK)

# The look-ahead: a separate venv with the newest releases the ranges allow, rebuilt every time.
test-latest:
	rm -rf .venv-latest
	$(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip install --quiet --upgrade pip
	.venv-latest/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager --editable '.[test]'
	.venv-latest/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	.venv-latest/bin/python -m pip freeze --exclude-editable > .venv-latest/versions.txt
	.venv-latest/bin/python -m pytest

clean:
	rm -rf _build book/chapters .cache
