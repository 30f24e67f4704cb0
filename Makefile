# Composite Index: developer commands. `make demo` and `make test` are all a new machine needs.
SHELL := /bin/bash
PY := .venv/bin/python
export QT_QPA_PLATFORM ?= offscreen
export PYTHONDONTWRITEBYTECODE := 1
VERSION := $(shell sed -n 's/^version=//p' metadata.txt)
ZIP := dist/composite_index_plugin-$(VERSION).zip
QGIS_PLUGINS_DIR ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/default/python/plugins

.PHONY: setup test test-core demo bench lint package install clean

setup:
	@bash scripts/setup.sh

test: setup
	$(PY) -m pytest -q tests

test-core: setup
	$(PY) -m pytest -q tests/core

demo: setup
	$(PY) scripts/demo.py $(DEMO_ARGS)

bench: setup
	$(PY) scripts/bench.py $(BENCH_ARGS)

lint: setup
	$(PY) -m ruff check composite_index_plugin tests scripts benchmarks

package: setup
	$(PY) scripts/package.py --out $(ZIP)

install: package
	mkdir -p "$(QGIS_PLUGINS_DIR)"
	rm -rf "$(QGIS_PLUGINS_DIR)/composite_index_plugin"
	cd "$(QGIS_PLUGINS_DIR)" && unzip -q -o "$(CURDIR)/$(ZIP)"
	@echo "Installed into $(QGIS_PLUGINS_DIR)/composite_index_plugin; enable it in Plugins > Manage and Install Plugins."

clean:
	rm -rf dist output .pytest_cache .ruff_cache
