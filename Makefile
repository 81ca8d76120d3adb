# rsftpd: build, demo, checks and tests. README.md says what each target is for.
#
#   make run      build, then serve a demo tree on 127.0.0.1:2121 (no root needed)
#   make test     everything CI runs: system packages (as root), checks, all tests
#   make check    formatting, clippy, the unsafe audit, file headers, manual pages
#   make build    release binary in target/release/rsftpd
#   make install  binary, manual pages, xinetd service (DESTDIR, PREFIX)

SHELL := /bin/bash
CARGO ?= cargo

# ---- System packages the tests use (Debian 12 names). -------------------------------
# Test writers: add what your tests run here; `make test` installs what is missing when it
# runs as root, and .ci/run installs the whole list.
PKGS = curl lftp tnftp wget python3 groff-base man-db xinetd libcrypt-dev

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

# ---- Install --------------------------------------------------------------------------
DESTDIR ?=
PREFIX ?= /usr
sbindir ?= /usr/sbin
mandir ?= $(PREFIX)/share/man
datadir ?= $(PREFIX)/share
sysconfdir ?= /etc

BIN := target/release/rsftpd

.PHONY: all build run test check deps print-pkgs install uninstall clean

all: build

build:
	$(CARGO) build --release --locked

run: build
	tools/demo.sh $(BIN) $(DEMO_DIR) $(DEMO_PORT) $(DEMO_PASV_MIN) $(DEMO_PASV_MAX)

check:
	tools/check.sh

print-pkgs:
	@echo $(PKGS)

# What the tests need from the system: the packages above and the `ftp` user that
# anonymous sessions run as (ftp_username=ftp). Installs as root; otherwise says what is
# missing and goes on, so the tests that can run still do (root-only ones skip).
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

# Install what a package would: the binary, the manual pages, the xinetd service, the
# empty pre-login jail and, only when there is none yet, a minimal /etc/rsftpd.conf.
install: build
	install -D -m 0755 $(BIN) $(DESTDIR)$(sbindir)/rsftpd
	install -D -m 0644 man/rsftpd.8 $(DESTDIR)$(mandir)/man8/rsftpd.8
	install -D -m 0644 man/rsftpd.conf.5 $(DESTDIR)$(mandir)/man5/rsftpd.conf.5
	install -D -m 0644 xinetd.d/rsftpd $(DESTDIR)$(sysconfdir)/xinetd.d/rsftpd
	install -d -m 0755 $(DESTDIR)$(datadir)/rsftpd/empty
	@if [ -e $(DESTDIR)$(sysconfdir)/rsftpd.conf ]; then \
		echo "keeping the existing $(DESTDIR)$(sysconfdir)/rsftpd.conf"; \
	else \
		install -d -m 0755 $(DESTDIR)$(sysconfdir); \
		printf '%s\n' \
			'# rsftpd configuration; see rsftpd.conf(5). Every key has a default, so this' \
			'# file only needs what differs. vsftpd.conf syntax and keys.' \
			'#' \
			'# Anonymous, read-only FTP from the home directory of the user ftp.' \
			'anonymous_enable=YES' \
			'write_enable=NO' \
			> $(DESTDIR)$(sysconfdir)/rsftpd.conf; \
		chmod 0644 $(DESTDIR)$(sysconfdir)/rsftpd.conf; \
		echo "wrote $(DESTDIR)$(sysconfdir)/rsftpd.conf"; \
	fi

# Leaves /etc/rsftpd.conf alone: it may hold the administrator's changes.
uninstall:
	rm -f $(DESTDIR)$(sbindir)/rsftpd $(DESTDIR)$(mandir)/man8/rsftpd.8 \
		$(DESTDIR)$(mandir)/man5/rsftpd.conf.5 $(DESTDIR)$(sysconfdir)/xinetd.d/rsftpd
	-rmdir $(DESTDIR)$(datadir)/rsftpd/empty $(DESTDIR)$(datadir)/rsftpd

clean:
	$(CARGO) clean
	rm -rf $(DEMO_DIR)
