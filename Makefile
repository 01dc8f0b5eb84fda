# mmagent: one-command setup, tests and quick start.
#
#   make install                        # .venv/ with the pinned stack + mmagent (editable)
#   make install PYTHON=/path/to/python # into an environment you already have
#   make test                           # install if needed, then the test suite
#   make demo                           # install if needed, then the quick start
#   make lint                           # flake8 + isort + yapf (settings in setup.cfg)
#
# The first install builds mmcv 2.1.0 from source (about 12 minutes on 2 cores);
# later runs take seconds.

PYTHON ?=
ifeq ($(strip $(PYTHON)),)
PY := $(CURDIR)/.venv/bin/python
else
PY := $(PYTHON)
endif
PYTEST_ARGS ?=

.PHONY: install test demo lint clean-venv

install:
	@PYTHON="$(PYTHON)" bash tools/install_env.sh

test: install
	$(PY) -m pytest tests $(PYTEST_ARGS)

demo: install
	$(PY) tools/quickstart.py

LINT_PATHS := mmagent tools tests configs benchmarks setup.py

lint: install
	$(PY) -m flake8 $(wildcard $(LINT_PATHS))
	$(PY) -m isort --check-only --diff $(wildcard $(LINT_PATHS))
	$(PY) -m yapf -r --diff $(wildcard $(LINT_PATHS))

clean-venv:
	rm -rf .venv
