# Everything a fresh Debian machine needs, installed on demand.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
DEB_PACKAGES := runc docker-registry busybox-static uidmap slirp4netns fuse-overlayfs apache2-utils umoci tmux tini
PYTEST_ARGS ?=

.PHONY: all deps venv test demo bench docs clean

all: test

# Debian packages, installed only when one is missing (apt-get needs root).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	python3 -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml | deps
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# compat: a plain .pth path entry; the default editable finder costs ~12 ms per interpreter start.
	$(PY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	$(PY) -m compileall -q pyctr >/dev/null
	touch $@

venv: deps $(VENV)/.installed

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

demo: venv
	$(PY) -m tests.harness.demo

bench: venv
	@command -v podman >/dev/null || (DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends podman)
	$(PY) -m compileall -q pyctr >/dev/null
	$(PY) -m tests.harness.bench

docs: venv
	$(PY) -m tests.harness.mkdocs

clean:
	rm -rf $(VENV) build *.egg-info
