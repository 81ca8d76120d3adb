#!/usr/bin/env bash
# `make install` and `make uninstall`: tools/install.sh install|uninstall
#
# Install lays out what a package would, with explicit owners and modes (install -o root
# -g root -m ...), and writes a manifest of exactly what it created to
# $DESTDIR$datadir/rsftpd/install.manifest; uninstall removes exactly that:
#
#   file PATH        installed by us; uninstall removes it
#   conf SHA256 PATH a configuration file we wrote (SHA256 of what we wrote); uninstall
#                    removes it only if it is unchanged, and keeps an edited one
#   dir PATH         a directory we created; uninstall removes it only if it is empty, so
#                    nothing inside (anonymous files, uploads) is ever deleted
#   user NAME        a system user we created; uninstall leaves it (files may belong to it)
#
# Paths in the manifest are without DESTDIR. A second install keeps the first one's
# records, so the manifest always describes everything install ever created.
#
# Configuration files (rsftpd.conf, xinetd.d/rsftpd, ftpusers) are never overwritten
# once they differ from what we ship: they may hold the administrator's changes.
#
# Settings come from the Makefile, as environment variables: DESTDIR BIN sbindir mandir
# datadir sysconfdir systemdunitdir ftpdir ANON_UPLOAD (yes: the anonymous upload
# directory and the drop-box configuration) SYSTEMD_UNITS (no: skip the systemd units).
set -euo pipefail

cd "$(dirname "$0")/.."

action=${1:?usage: tools/install.sh install|uninstall}
: "${DESTDIR=}"
: "${BIN:=target/release/rsftpd}"
: "${sbindir:=/usr/sbin}"
: "${mandir:=/usr/share/man}"
: "${datadir:=/usr/share}"
: "${sysconfdir:=/etc}"
: "${systemdunitdir:=/usr/lib/systemd/system}"
: "${ftpdir:=/var/ftp}"
: "${ANON_UPLOAD:=no}"
: "${SYSTEMD_UNITS:=yes}"

D=$DESTDIR
manifest_path=$datadir/rsftpd/install.manifest
manifest=$D$manifest_path

say() { printf '%s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# Owners: always root:root. An unprivileged packaging run into a DESTDIR (no root to
# chown to) can pass OWNER=none and fix owners in the package instead.
if [ "${OWNER:-root}" = none ]; then
    own=()
else
    own=(-o root -g root)
fi

if [ -z "$D" ] && [ "$(id -u)" != 0 ]; then
    die "make $action writes to /usr and /etc: run it as root (or stage it: DESTDIR=DIR OWNER=none)"
fi

case $ANON_UPLOAD in yes | no) ;; *) die "ANON_UPLOAD must be yes or no, not '$ANON_UPLOAD'" ;; esac
case $SYSTEMD_UNITS in yes | no) ;; *) die "SYSTEMD_UNITS must be yes or no, not '$SYSTEMD_UNITS'" ;; esac

# ---- the manifest ------------------------------------------------------------------------
declare -a records=()   # in creation order
declare -A recorded=()  # path -> 1

load_manifest() {
    [ -f "$manifest" ] || return 0
    local kind a b
    while read -r kind a b; do
        case $kind in
            file | dir) record "$kind" "$a" ;;
            conf) record conf "$a" "$b" ;;
            user) record user "$a" ;;
        esac
    done <"$manifest"
}

# record KIND PATH | record conf SHA PATH; the first record of a path wins.
record() {
    local kind=$1 key
    if [ "$kind" = conf ]; then key=$3; else key=$2; fi
    [ -n "${recorded[$key]:-}" ] && return 0
    recorded[$key]=1
    shift
    records+=("$kind $*")
}

# ---- install -------------------------------------------------------------------------------

# mkdir_recorded DIR MODE: create DIR (without DESTDIR) and any missing parents, root-owned;
# parents 0755, DIR itself MODE. Records each directory it created.
mkdir_recorded() {
    local dir=$1 mode=$2 p="" part
    local -a parts
    IFS=/ read -r -a parts <<<"${dir#/}"
    for part in "${parts[@]}"; do
        p=$p/$part
        if [ ! -d "$D$p" ]; then
            if [ "$p" = "$dir" ]; then
                install -d "${own[@]}" -m "$mode" "$D$p"
            else
                install -d "${own[@]}" -m 0755 "$D$p"
            fi
            record dir "$p"
        fi
    done
}

# install_file SRC DEST MODE: always (re)installed; recorded as ours.
install_file() {
    local src=$1 dest=$2 mode=$3
    mkdir_recorded "$(dirname "$dest")" 0755
    install "${own[@]}" -m "$mode" "$src" "$D$dest"
    record file "$dest"
}

# install_conf SRC DEST MODE: installed if DEST is missing; kept if it is there (identical
# or edited). Recorded with the checksum of what we wrote.
install_conf() {
    local src=$1 dest=$2 mode=$3
    mkdir_recorded "$(dirname "$dest")" 0755
    if [ -e "$D$dest" ]; then
        if cmp -s "$src" "$D$dest"; then
            record conf "$(sha "$src")" "$dest"
        else
            say "keeping the existing $D$dest (it differs from the shipped one: $src)"
        fi
        return 0
    fi
    install "${own[@]}" -m "$mode" "$src" "$D$dest"
    record conf "$(sha "$src")" "$dest"
    say "installed $D$dest"
}

# subst FILE: the shipped text with this install's paths.
subst() {
    sed -e "s|/usr/sbin/rsftpd|$sbindir/rsftpd|g" \
        -e "s|^secure_chroot_dir=/usr/share/rsftpd/empty\$|secure_chroot_dir=$datadir/rsftpd/empty|" \
        -e "s|^anon_root=/var/ftp\$|anon_root=$ftpdir|" \
        "$1"
}

do_install() {
    [ -x "$BIN" ] || die "no binary at $BIN (run make build first)"
    load_manifest
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT

    # The program and its manual pages (gzipped, as Debian ships them).
    install_file "$BIN" "$sbindir/rsftpd" 0755
    gzip -9nc man/rsftpd.8 >"$stage/rsftpd.8.gz"
    gzip -9nc man/rsftpd.conf.5 >"$stage/rsftpd.conf.5.gz"
    install_file "$stage/rsftpd.8.gz" "$mandir/man8/rsftpd.8.gz" 0644
    install_file "$stage/rsftpd.conf.5.gz" "$mandir/man5/rsftpd.conf.5.gz" 0644

    # The pre-login jail: empty, root's, not writable by anyone else.
    mkdir_recorded "$datadir/rsftpd/empty" 0755

    # Configuration: the safe default, or the drop box when anonymous upload is asked for.
    local conf_src=etc/rsftpd.conf
    [ "$ANON_UPLOAD" = yes ] && conf_src=etc/rsftpd-dropbox.conf
    subst "$conf_src" >"$stage/rsftpd.conf"
    install_conf "$stage/rsftpd.conf" "$sysconfdir/rsftpd.conf" 0644
    if [ "$ANON_UPLOAD" = yes ] && ! grep -qx 'anon_upload_enable=YES' "$D$sysconfdir/rsftpd.conf"; then
        say "note: ANON_UPLOAD=yes, but $D$sysconfdir/rsftpd.conf does not set anon_upload_enable=YES; see $datadir/doc/rsftpd/examples/rsftpd-dropbox.conf"
    fi
    subst xinetd.d/rsftpd >"$stage/xinetd"
    install_conf "$stage/xinetd" "$sysconfdir/xinetd.d/rsftpd" 0644

    # /etc/ftpusers: the accounts that may never log in, if there is no such file yet.
    printf '%s\n' '# /etc/ftpusers: users who may not log in by FTP; see ftpusers(5).' \
        root daemon bin sys sync games man lp mail news uucp nobody >"$stage/ftpusers"
    install_conf "$stage/ftpusers" "$sysconfdir/ftpusers" 0644

    # Examples, where Debian keeps them.
    for f in etc/rsftpd.conf etc/rsftpd-dropbox.conf; do
        subst "$f" >"$stage/$(basename "$f")"
        install_file "$stage/$(basename "$f")" "$datadir/doc/rsftpd/examples/$(basename "$f")" 0644
    done

    # systemd socket activation (an alternative to xinetd; not enabled).
    if [ "$SYSTEMD_UNITS" = yes ]; then
        install_file systemd/rsftpd.socket "$systemdunitdir/rsftpd.socket" 0644
        subst systemd/rsftpd@.service >"$stage/rsftpd@.service"
        install_file "$stage/rsftpd@.service" "$systemdunitdir/rsftpd@.service" 0644
    fi

    # The anonymous tree: root's and read-only for the user ftp. Existing directories are
    # left as they are.
    mkdir_recorded "$ftpdir" 0755
    mkdir_recorded "$ftpdir/pub" 0755
    if [ "$ANON_UPLOAD" = yes ]; then
        # A drop box: ftp may enter and create files, not list (drwx-wx-wx, root's).
        mkdir_recorded "$ftpdir/pub/upload" 0733
    fi

    # The user anonymous sessions run as (ftp_username).
    if [ -n "$D" ]; then
        say "note: DESTDIR install: not touching this machine's /etc/passwd; on the target, create the user ftp if it is missing:"
        say "      useradd --system --home-dir $ftpdir --no-create-home --shell /usr/sbin/nologin ftp"
    elif getent passwd ftp >/dev/null; then
        :
    else
        useradd --system --home-dir "$ftpdir" --no-create-home --shell /usr/sbin/nologin ftp
        record user ftp
        say "created the system user ftp (home $ftpdir)"
    fi

    # The manifest, last: it lists what this and every earlier install created.
    mkdir_recorded "$datadir/rsftpd" 0755
    {
        say "# rsftpd install manifest, written by make install; make uninstall removes exactly"
        say "# this (see tools/install.sh). Paths are without DESTDIR."
        printf '%s\n' "${records[@]}"
    } >"$stage/manifest"
    install "${own[@]}" -m 0644 "$stage/manifest" "$manifest"

    say "installed rsftpd into ${D:-/} (manifest: $manifest)"
    if [ -z "$D" ]; then
        say "next: check $sysconfdir/xinetd.d/rsftpd says disable = no, then: systemctl restart xinetd (or: service xinetd restart)"
    fi
}

# ---- uninstall -----------------------------------------------------------------------------

do_uninstall() {
    [ -f "$manifest" ] || die "no manifest at $manifest: nothing recorded to remove (was rsftpd installed with make install and this DESTDIR/PREFIX?)"
    load_manifest
    local r kind a b i
    local -a dirs=()
    for r in "${records[@]}"; do
        read -r kind a b <<<"$r"
        case $kind in
            file)
                rm -f "$D$a"
                ;;
            conf)
                if [ ! -e "$D$b" ]; then
                    :
                elif [ "$(sha "$D$b")" = "$a" ]; then
                    rm -f "$D$b"
                else
                    say "keeping $D$b: it was changed after install"
                fi
                ;;
            dir) dirs+=("$a") ;;
            user) say "leaving the user $a (created by install; files may belong to it): userdel $a to remove it" ;;
        esac
    done
    rm -f "$manifest"
    # Deepest first (the reverse of creation order); only empty ones go.
    for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
        a=${dirs[i]}
        [ -d "$D$a" ] || continue
        rmdir "$D$a" 2>/dev/null || say "keeping $D$a: not empty"
    done
    say "uninstalled rsftpd from ${D:-/}"
}

case $action in
    install) do_install ;;
    uninstall) do_uninstall ;;
    *) die "usage: tools/install.sh install|uninstall" ;;
esac
