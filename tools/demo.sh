#!/usr/bin/env bash
# `make run`: serve a small anonymous demo tree on 127.0.0.1 as the launching user, no root
# needed (run_as_launching_user=YES: no monitor, no chroot, no identity change; see
# rsftpd(8)). Usage: tools/demo.sh BINARY DEMO_DIR PORT PASV_MIN PASV_MAX
# Lays out DEMO_DIR (root/ served read-only, empty/ as secure_chroot_dir, rsftpd.conf),
# prints how to connect, then runs the server in the foreground until Ctrl-C.
set -euo pipefail

bin=$1 dir=$2 port=$3 pasv_min=$4 pasv_max=$5

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
root=$dir/root
mkdir -p "$root/pub/docs" "$dir/empty"

cat >"$root/README.txt" <<TXT
Welcome to the rsftpd demo.

This tree is served read-only to anonymous users from $root.
Try: cd pub, ls, get hello.txt, get numbers.txt, cd docs.
TXT
printf 'Hello from rsftpd!\n' >"$root/pub/hello.txt"
seq 1 10000 >"$root/pub/numbers.txt"
cat >"$root/pub/docs/about.txt" <<'TXT'
rsftpd is a privilege-separated FTP server for Linux, started by xinetd and configured
like vsftpd. See README.md and the manual pages rsftpd(8) and rsftpd.conf(5).
TXT

# rsftpd refuses a configuration file that is not owned by the user running it (or root).
cat >"$dir/rsftpd.conf" <<CONF
# rsftpd demo configuration, written by \`make run\` (tools/demo.sh); see rsftpd.conf(5).
listen=YES
listen_address=127.0.0.1
listen_port=$port
run_as_launching_user=YES
anonymous_enable=YES
anon_root=$root
secure_chroot_dir=$dir/empty
pasv_min_port=$pasv_min
pasv_max_port=$pasv_max
CONF

"$bin" -t -c "$dir/rsftpd.conf" >/dev/null

cat <<MSG

rsftpd demo: serving $root
on ftp://127.0.0.1:$port/ as $(id -un), anonymous login, read-only.
Configuration: $dir/rsftpd.conf

Connect from another terminal with any of:
  curl ftp://127.0.0.1:$port/                 list the top directory
  curl ftp://127.0.0.1:$port/pub/hello.txt    download a file
  lftp -p $port 127.0.0.1                     then: ls, cd pub, get hello.txt
  ftp 127.0.0.1 $port                         user: anonymous, any password

Press Ctrl-C to stop the server.

MSG
exec "$bin" -c "$dir/rsftpd.conf"
