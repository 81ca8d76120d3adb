#!/usr/bin/env bash
# Repository checks, run by `make check` (and so by `make test` and CI):
#   1. cargo fmt --check
#   2. cargo clippy on every target with warnings denied (skipped, with a note, when the
#      clippy component is not installed)
#   3. the unsafe audit of DESIGN.md section 2: `unsafe`, `libc::` and `nix::` only in
#      src/sys/, and every unsafe block there under a `// SAFETY:` comment
#   4. every .rs file under src/ starts with a `//!` header saying what it owns
#   5. the manual pages are clean for groff's man macros (no warnings at all)
# Every check runs even when an earlier one failed; the exit status is 1 if any failed.
set -uo pipefail

cd "$(dirname "$0")/.."
failed=()

step() { printf '==> %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$1"; failed+=("$1"); }

step "cargo fmt --check"
cargo fmt --check || fail "cargo fmt --check (run: cargo fmt)"

step "cargo clippy --locked --all-targets -- -D warnings"
if cargo clippy --version >/dev/null 2>&1; then
    cargo clippy --locked --all-targets --quiet -- -D warnings || fail "cargo clippy"
else
    echo "note: clippy is not installed (rustup component add clippy); skipping this check"
fi

step "unsafe audit: unsafe, libc:: and nix:: only in src/sys/"
# Word boundaries keep std::os::unix:: and #[allow(unsafe_code)] out of it; comment lines
# (//, ///, //!) and the crate's #![deny(unsafe_code)] are not code that uses anything.
outside=$(grep -rnE '\bunsafe\b|\blibc::|\bnix::' src --include='*.rs' \
    | grep -v '^src/sys/' \
    | grep -vE '^[^:]+:[0-9]+:\s*(//|#!\[deny\(unsafe_code\))')
if [ -n "$outside" ]; then
    printf '%s\n' "$outside"
    fail "unsafe, libc:: or nix:: outside src/sys/ (DESIGN.md section 2)"
fi

step "unsafe audit: every unsafe block in src/sys/ has a // SAFETY: comment within 3 lines above"
unjustified=$(find src/sys -name '*.rs' -print0 | sort -z | xargs -0 awk '
    FNR == 1 { delete prev }
    {
        code = $0
        sub(/\/\/.*/, "", code)            # what follows // is a comment, not code
        if (code ~ /(^|[^A-Za-z0-9_])unsafe[ \t]*\{/) {
            ok = ($0 ~ /\/\/ SAFETY:/)
            for (i = 1; i <= 3; i++)
                if ((FNR - i) in prev && prev[FNR - i] ~ /\/\/ SAFETY:/) ok = 1
            if (!ok) printf "%s:%d: %s\n", FILENAME, FNR, $0
        }
        prev[FNR] = $0
    }')
if [ -n "$unjustified" ]; then
    printf '%s\n' "$unjustified"
    fail "unsafe block without a // SAFETY: comment in the 3 lines above"
fi

step "every src/**/*.rs starts with a //! header"
noheader=$(find src -name '*.rs' | sort | while read -r f; do
    head -n 1 "$f" | grep -q '^//!' || echo "$f"
done)
if [ -n "$noheader" ]; then
    printf '%s: first line is not a //! header\n' $noheader
    fail "src files without a //! header"
fi

step "groff -man -ww -z man/*.[58]"
if command -v groff >/dev/null 2>&1; then
    warnings=$(groff -man -ww -z man/*.[58] 2>&1)
    if [ -n "$warnings" ]; then
        printf '%s\n' "$warnings"
        fail "groff warnings in man/"
    fi
else
    echo "note: groff is not installed (apt-get install groff-base); skipping this check"
fi

if [ ${#failed[@]} -gt 0 ]; then
    printf '\ncheck: %d failed:\n' "${#failed[@]}"
    printf '  - %s\n' "${failed[@]}"
    exit 1
fi
echo "check: all passed"
