# Composite Index: developer commands. `make demo` and `make test` are all a new machine needs.
# QGIS=3.40 (or 3.44, 3.22, all; comma lists too) runs a target on that QGIS version instead of the
# host's, in a cached Debian chroot (scripts/qgis_matrix.sh): `make test QGIS=3.40`.
SHELL := /bin/bash
VENV ?= .venv
REF_VENV ?= .venv-ref
PY := $(VENV)/bin/python
export VENV REF_VENV
export QT_QPA_PLATFORM ?= offscreen
export PYTHONDONTWRITEBYTECODE := 1
VERSION := $(shell sed -n 's/^version=//p' metadata.txt)
ZIP := dist/composite_index_plugin-$(VERSION).zip
QGIS_PLUGINS_DIR ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/default/python/plugins
QGIS ?=

.PHONY: setup test test-core demo bench lint package install clean matrix ts qm i18n

ifneq ($(strip $(QGIS)),)
test test-core demo bench lint package:
	@bash scripts/qgis_matrix.sh $(QGIS) $@
else
setup:
	@bash scripts/setup.sh

test: setup
	$(PY) -m pytest -q tests $(PYTEST_ARGS)

test-core: setup
	$(PY) -m pytest -q tests/core $(PYTEST_ARGS)

demo: setup
	$(PY) scripts/demo.py $(DEMO_ARGS)

bench: setup
	$(PY) scripts/bench.py $(BENCH_ARGS)

# ruff, then the Qt6 / QGIS 4 check (scripts/check_qt6.py: Qt5-only and legacy-QGIS constructs)
lint: setup
	$(PY) -m ruff check composite_index_plugin tests scripts benchmarks
	$(PY) scripts/check_qt6.py

package: setup
	$(PY) scripts/package.py --out $(ZIP)
	$(PY) scripts/check_package.py $(ZIP)
endif

# translations (scripts/translations.py; no Qt tool needed): `make ts` writes the template
# i18n/composite_index.ts and updates every i18n/composite_index_<locale>.ts; `make qm` compiles
# those to .qm (the plugin loads i18n/composite_index_<QGIS locale>.qm; the ZIP gets them too)
ts:
	$(PY) scripts/translations.py ts

qm:
	$(PY) scripts/translations.py qm

i18n: ts qm

# every QGIS version of the matrix, one after the other (what CI runs)
matrix:
	@bash scripts/qgis_matrix.sh all test

install: package
	mkdir -p "$(QGIS_PLUGINS_DIR)"
	rm -rf "$(QGIS_PLUGINS_DIR)/composite_index_plugin"
	cd "$(QGIS_PLUGINS_DIR)" && unzip -q -o "$(CURDIR)/$(ZIP)"
	@echo "Installed into $(QGIS_PLUGINS_DIR)/composite_index_plugin; enable it in Plugins > Manage and Install Plugins."

clean:
	rm -rf dist output .pytest_cache .ruff_cache
