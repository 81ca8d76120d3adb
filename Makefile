# rsftpd: build, demo, checks and tests. README.md says what each target is for.
#
#   make run      build, then serve a demo tree on 127.0.0.1:2121 (no root needed)
#   make test     everything CI runs: system packages (as root), checks, all tests
#   make check    formatting, clippy, the unsafe audit, file headers, manual pages
#   make build    release binary in target/release/rsftpd
#   make install  binary, configuration, xinetd service, systemd units, manual pages,
#                 /var/ftp (DESTDIR, PREFIX, ANON_UPLOAD=yes; see tools/install.sh)
#   make uninstall  exactly what install created (its manifest), never user data
#   make bench    release build, then rsftpd against vsftpd under private xinetd instances
#                 (as root; BENCH_ARGS='--quick' for a short run; docs/PERFORMANCE.md)
#   make stress   the load test (tests/load.rs) at full size: 200 sessions, 50 uploads
#   make cert     a self-signed certificate for a first FTPS try (CERT_DIR, CERT_CN)

SHELL := /bin/bash
CARGO ?= cargo

# ---- System packages the tests use (Debian 12 names). -------------------------------
# Test writers: add what your tests run here; `make test` installs what is missing when it
# runs as root, and .ci/run installs the whole list.
# iproute2 (ss) and systemd (systemd-analyze verify, systemd-socket-activate; not started,
# systemd is not PID 1 in CI) are for tests/install.rs; openssl (test certificates) for
# tests/tls.rs; haproxy (run in the foreground by the test, never as a service) for
# tests/proxy.rs; python3-venv: tests/mlsx.rs runs aioftp (from PyPI) in a venv,
# target/pyenv.
PKGS = curl lftp tnftp wget python3 python3-venv groff-base man-db xinetd libcrypt-dev iproute2 systemd openssl haproxy
# The PyPI packages the tests use, installed into PYENV by `make deps`.
PYENV ?= target/pyenv
PYPI_PKGS = aioftp

# ---- Demo (make run) ------------------------------------------------------------------
DEMO_DIR ?= demo
DEMO_PORT ?= 2121
DEMO_PASV_MIN ?= 50000
DEMO_PASV_MAX ?= 50099

# ---- Tests ----------------------------------------------------------------------------
# Debug build: it compiles in about a third of the release build's time (lto, one codegen
# unit) and keeps overflow checks and debug assertions on while the tests run.
# Extra arguments for the test binaries, e.g. make test TEST_ARGS='--test-threads=1'.
TEST_ARGS ?=

# ---- Load test (make stress) ----------------------------------------------------------
# tests/load.rs runs in `make test` at a small size (40 download sessions, 10 uploads, and
# a standalone flood scaled from them). `make stress` runs it alone at the hardening
# issue's size, same debug profile as make test: STRESS_SESSIONS concurrent sessions each
# downloading and checksumming a file, STRESS_UPLOADS concurrent uploads to different names
# (root only), and 3/2 x STRESS_SESSIONS reset connections plus STRESS_UPLOADS idle ones
# against a listen=YES server. Bounded (every socket has timeouts); a few minutes at most.
STRESS_SESSIONS ?= 200
STRESS_UPLOADS ?= 50

# ---- Benchmark (make bench) -----------------------------------------------------------
# bench/bench.py compares rsftpd with vsftpd 3.0.3 on loopback (docs/PERFORMANCE.md).
# Root only. BENCH_ARGS='--quick' runs small sizes in well under a minute; see
# `python3 bench/bench.py --help` for --reps, --size-mib, --only and the rest.
PYTHON ?= python3
BENCH_ARGS ?=

# ---- Install --------------------------------------------------------------------------
# Paths without DESTDIR; sysconfdir stays /etc whatever the PREFIX (rsftpd reads
# /etc/rsftpd.conf). ANON_UPLOAD=yes: a drop box (/var/ftp/pub/upload, mode 0733, and the
# drop-box configuration if there is no /etc/rsftpd.conf yet). SYSTEMD_UNITS=no: skip
# rsftpd.socket and rsftpd@.service. OWNER=none: no chown, for unprivileged packaging runs.
DESTDIR ?=
PREFIX ?= /usr
prefix ?= $(PREFIX)
sbindir ?= $(prefix)/sbin
mandir ?= $(prefix)/share/man
datadir ?= $(prefix)/share
sysconfdir ?= /etc
systemdunitdir ?= $(prefix)/lib/systemd/system
ftpdir ?= /var/ftp
ANON_UPLOAD ?= no
SYSTEMD_UNITS ?= yes
OWNER ?= root

# The binary to install. `make install BIN=path` installs that one without building.
BIN ?= target/release/rsftpd
INSTALL_ENV = DESTDIR='$(DESTDIR)' BIN='$(BIN)' sbindir='$(sbindir)' mandir='$(mandir)' \
	datadir='$(datadir)' sysconfdir='$(sysconfdir)' systemdunitdir='$(systemdunitdir)' \
	ftpdir='$(ftpdir)' ANON_UPLOAD='$(ANON_UPLOAD)' SYSTEMD_UNITS='$(SYSTEMD_UNITS)' \
	OWNER='$(OWNER)'

.PHONY: all build run test check deps print-pkgs install uninstall clean bench stress

all: build

build:
	$(CARGO) build --release --locked

run: build
	tools/demo.sh $(BIN) $(DEMO_DIR) $(DEMO_PORT) $(DEMO_PASV_MIN) $(DEMO_PASV_MAX)

check:
	tools/check.sh

bench: build
	$(PYTHON) bench/bench.py $(BENCH_ARGS)

print-pkgs:
	@echo $(PKGS)

# What the tests need from the system: the packages above, the `ftp` user that
# anonymous sessions run as (ftp_username=ftp), and PYPI_PKGS in the venv PYENV. Installs
# the packages as root; otherwise says what is missing and goes on, so the tests that can
# run still do (root-only ones skip).
deps:
	@missing=$$(for p in $(PKGS); do \
		dpkg-query -W -f='$${Status}\n' "$$p" 2>/dev/null | grep -q '^install ok installed$$' || echo "$$p"; \
	done | xargs); \
	if [ "$$(id -u)" = 0 ]; then \
		if [ -n "$$missing" ]; then \
			echo "==> installing: $$missing"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -q && apt-get install -y -q --no-install-recommends $$missing || exit 1; \
		fi; \
		if ! getent passwd ftp >/dev/null; then \
			echo "==> creating the system user ftp"; \
			useradd --system --home-dir /srv/ftp --shell /usr/sbin/nologin ftp || exit 1; \
		fi; \
	else \
		[ -z "$$missing" ] || echo "WARNING: not root, so not installing these packages; the tests that use them will fail: $$missing (as root: apt-get install $$missing)"; \
		getent passwd ftp >/dev/null || echo "WARNING: no user 'ftp' (as root: useradd --system --home-dir /srv/ftp --shell /usr/sbin/nologin ftp)"; \
		echo "WARNING: not root: the tests that need root (privilege separation, xinetd, local users) are skipped; run make test as root for all of them."; \
	fi; \
	if ! $(PYENV)/bin/python -c 'import aioftp' >/dev/null 2>&1; then \
		echo "==> $(PYENV): $(PYPI_PKGS) from PyPI"; \
		{ $(PYTHON) -m venv $(PYENV) && $(PYENV)/bin/pip install -q $(PYPI_PKGS); } || \
			echo "WARNING: could not make $(PYENV) with $(PYPI_PKGS); tests/mlsx.rs tries again and fails without it"; \
	fi

# The last line is a plain 'tests: N passed, N failed, N skipped' summed over every test
# binary (N skipped = ignored tests), because cargo's own last line is the doc-tests'.
test: deps
	@$(MAKE) --no-print-directory check
	@mkdir -p target; set -o pipefail; \
	$(CARGO) test --locked --no-fail-fast -- $(TEST_ARGS) 2>&1 | tee target/test.log; rc=$$?; \
	awk '/^test result:/ { p += $$4; f += $$6; s += $$8 } \
		END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' target/test.log; \
	exit $$rc

# The load test alone at full size, its timing printed (--nocapture).
stress: deps
	RSFTPD_LOAD_SESSIONS=$(STRESS_SESSIONS) RSFTPD_LOAD_UPLOADS=$(STRESS_UPLOADS) \
		$(CARGO) test --locked --test load -- --nocapture --test-threads=1 $(TEST_ARGS)

# A self-signed certificate and key for ssl_enable=YES (rsa_cert_file, rsa_private_key_file):
# for a first try only, since clients cannot verify it. Never overwrites an existing one.
CERT_DIR ?= /etc/ssl/rsftpd
CERT_CN ?= $(shell hostname -f 2>/dev/null || hostname)
.PHONY: cert
cert:
	@if [ -e $(CERT_DIR)/rsftpd.pem ] || [ -e $(CERT_DIR)/rsftpd.key ]; then \
		echo "$(CERT_DIR)/rsftpd.pem or rsftpd.key exists: not overwriting"; exit 1; fi
	install -d -m 0755 $(CERT_DIR)
	umask 077 && openssl req -x509 -newkey rsa:3072 -nodes -days 365 -subj "/CN=$(CERT_CN)" \
		-keyout $(CERT_DIR)/rsftpd.key -out $(CERT_DIR)/rsftpd.pem 2>/dev/null
	chmod 0644 $(CERT_DIR)/rsftpd.pem
	@echo "made $(CERT_DIR)/rsftpd.pem and $(CERT_DIR)/rsftpd.key (mode 0600); in rsftpd.conf:"
	@echo "  ssl_enable=YES"
	@echo "  rsa_cert_file=$(CERT_DIR)/rsftpd.pem"
	@echo "  rsa_private_key_file=$(CERT_DIR)/rsftpd.key"

# Install what a package would (tools/install.sh says exactly what, with owners and modes).
# Builds first, unless BIN names another binary, or cargo is missing and the binary is
# there (`make` as yourself, then `sudo make install`: root often has no cargo).
install:
	@if [ '$(BIN)' != target/release/rsftpd ]; then :; \
	elif command -v $(CARGO) >/dev/null 2>&1; then $(CARGO) build --release --locked || exit 1; \
	elif [ -x '$(BIN)' ]; then echo "note: $(CARGO) not found; installing the existing $(BIN)"; \
	else echo "error: $(CARGO) not found and no $(BIN): run make build first" >&2; exit 1; fi
	@$(INSTALL_ENV) tools/install.sh install

# Removes what install recorded in $(datadir)/rsftpd/install.manifest; keeps configuration
# files changed since, non-empty directories (/var/ftp's contents) and the user ftp.
uninstall:
	@$(INSTALL_ENV) tools/install.sh uninstall

clean:
	$(CARGO) clean
	rm -rf $(DEMO_DIR)

# ---- Fuzzing (make fuzz) --------------------------------------------------------------
# cargo fuzz targets in fuzz/ (their own crate and workspace: cargo build/test here never
# compile them; fuzz/README.md says what each one checks). `make fuzz` installs cargo-fuzz
# if missing, builds every target, then runs each for FUZZ_SECONDS (default 600 s, the
# 10 minutes of the fuzzing requirement), FUZZ_JOBS at a time (default 2, one per core),
# seeded from fuzz/corpus/<target>/ (libFuzzer adds what it finds there; only seed-* files
# are committed). RUSTC_BOOTSTRAP=1 lets the stable toolchain take cargo fuzz's -Z flags.
# At the defaults: 7 targets x 600 s / 2 = about 35 minutes plus the build.
# A crash stops that target; its input is in fuzz/artifacts/<target>/ and the log in
# fuzz/logs/<target>.log. `make fuzz-regress` replays every corpus and fuzz/regressions/
# input once (seconds), e.g. after a parser change.
FUZZ_SECONDS ?= 600
FUZZ_JOBS ?= 2
FUZZ_MAX_LEN ?= 8192
FUZZ_TARGETS ?= command addr path_resolve glob config ipc proxy
FUZZ_ENV = RUSTC_BOOTSTRAP=1

.PHONY: fuzz fuzz-deps fuzz-regress

fuzz-deps:
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked

fuzz: fuzz-deps
	$(FUZZ_ENV) $(CARGO) fuzz build
	@mkdir -p fuzz/logs; \
	printf '%s\n' $(FUZZ_TARGETS) | xargs -P $(FUZZ_JOBS) -I{} sh -c \
		'echo "==> fuzz {} for $(FUZZ_SECONDS)s"; \
		if $(FUZZ_ENV) $(CARGO) fuzz run {} -- -max_total_time=$(FUZZ_SECONDS) \
			-max_len=$(FUZZ_MAX_LEN) -print_final_stats=1 >fuzz/logs/{}.log 2>&1; \
		then echo "==> fuzz {}: clean, $$(grep -h stat::number_of_executed_units fuzz/logs/{}.log | awk "{print \$$2}") executions"; \
		else echo "==> fuzz {}: FAILED (fuzz/logs/{}.log, input in fuzz/artifacts/{}/)"; exit 1; fi'

fuzz-regress: fuzz-deps
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/regressions/$$t; \
		$(FUZZ_ENV) $(CARGO) fuzz run $$t fuzz/corpus/$$t fuzz/regressions/$$t -- -runs=0 \
			-max_len=$(FUZZ_MAX_LEN) || exit 1; \
	done
