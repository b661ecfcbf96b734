# Everything a fresh Debian machine needs, installed on demand.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
# Debian's interpreter: the rootless tests run pyctr as another user, who cannot run a python
# installed under /root (mode 0700), as pyenv's is.
PYTHON := /usr/bin/python3
DEB_PACKAGES := runc docker-registry busybox-static uidmap slirp4netns fuse-overlayfs apache2-utils umoci tmux tini \
	netavark aardvark-dns iptables iproute2 catatonit skopeo docker-compose
PYTEST_ARGS ?=
DEMO_PORT ?= 5050

.PHONY: all deps venv test demo demo-stop bench docs dist install clean

all: test

# Debian packages, installed only when one is missing (apt-get needs root).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || missing="$$missing python3 python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	fi

$(VENV)/.installed: pyproject.toml | deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# A plain .pth path entry (package-dir in pyproject.toml), not the editable finder hook.
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m compileall -q pyctr >/dev/null
	touch $@

venv: deps $(VENV)/.installed

test: venv
	$(PY) -m pytest $(PYTEST_ARGS)

# Leaves the demo registry up on localhost:$(DEMO_PORT) for the README's examples.
demo: venv
	$(PY) -m tests.harness.demo --port $(DEMO_PORT)

# The standard library only: works without the virtualenv.
demo-stop:
	$(PYTHON) -m tests.harness.demo stop

bench: venv
	@command -v podman >/dev/null || (DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends podman)
	$(PY) -m compileall -q pyctr >/dev/null
	$(PY) -m tests.harness.bench
	$(PY) -m tests.harness.benchspeed

docs: venv
	$(PY) -m tests.harness.mkdocs

# dist/pyctr: one executable file that needs only Debian's python3 (pyctr/dist/build.py says how).
# The build venv only lends its pip (python3-venv's, offline); the file is for $(PYTHON).
DIST_VENV := build/dist-venv
DIST_FILE ?= dist/pyctr
DIST_WORK ?= build/dist
dist: deps
	@[ -x $(DIST_VENV)/bin/python ] || $(PYTHON) -m venv $(DIST_VENV)
	$(PYTHON) -m pyctr.dist.build --pip $(DIST_VENV)/bin/python --work $(DIST_WORK) --output $(DIST_FILE)

# The file, its man pages (generated units name man:pyctr-generate-systemd(1), which
# `systemd-analyze verify` looks up), the shell completions and the service's socket units, under PREFIX.
PREFIX ?= /usr/local
install: dist
	install -D -m755 $(DIST_FILE) $(DESTDIR)$(PREFIX)/bin/pyctr
	install -d $(DESTDIR)$(PREFIX)/share/man/man1
	install -m644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -D -m644 completions/bash/pyctr $(DESTDIR)$(PREFIX)/share/bash-completion/completions/pyctr
	install -D -m644 completions/zsh/_pyctr $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_pyctr
	install -D -m644 completions/fish/pyctr.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/pyctr.fish
	install -D -m644 -t $(DESTDIR)$(PREFIX)/lib/systemd/system pyctr/service/units/pyctr.socket pyctr/service/units/pyctr.service
	install -D -m644 -t $(DESTDIR)$(PREFIX)/lib/systemd/user pyctr/service/units/pyctr.socket pyctr/service/units/pyctr.service

clean:
	rm -rf $(VENV) build dist *.egg-info
