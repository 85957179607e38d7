#!/usr/bin/env bash
# The README's two commands on a really fresh Debian 12, by hand (not CI): debootstraps a minimal bookworm,
# clones this checkout's committed HEAD into it with ../shared (faces/, models/) beside the clone, and in a chroot
# runs ./test.sh, then ./start-high-performance.sh until /health answers on 9003 and 9001. Prints PASS or FAIL.
#   scripts/fresh-debian-check.sh [ROOT]    ROOT: the Debian tree (default /tmp/iotstream-fresh-debian),
#                                           reused when a previous run completed its debootstrap
# Needs root, debootstrap, unshare and ip (util-linux, iproute2), and Debian's mirror (DEBIAN_MIRROR).
# SHARED_DIR: the shared folder to copy (default ../shared beside this checkout). Behind a TLS-intercepting
# proxy, the host's local CAs (/usr/local/share/ca-certificates) are trusted inside too (npm uses https).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
root=$(realpath -m "${1:-/tmp/iotstream-fresh-debian}")
shared=${SHARED_DIR:-$repo/../shared}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
health_wait_s=600 # start-high-performance.sh checks packages and the build before the server starts
started=$(date +%s)

log() { echo "[fresh-debian $(date +%H:%M:%S)] $*"; }
result() {
  log "$1 after $(($(date +%s) - started)) s: $2"
  [ "$1" = PASS ]
}
fail() { result FAIL "$1"; exit 1; }

[ "$(id -u)" = 0 ] || fail "run as root (debootstrap, mount and chroot need it)"
for tool in debootstrap unshare ip curl git; do
  command -v "$tool" > /dev/null || fail "$tool is missing (apt-get install debootstrap util-linux iproute2 curl git)"
done
[ -f "$shared/faces/MANIFEST.tsv" ] || fail "no face photos at $shared/faces (set SHARED_DIR)"
head=$(git -C "$repo" rev-parse HEAD)
git -C "$repo" diff --quiet HEAD || log "note: uncommitted changes in $repo are not checked, only HEAD $head"

mounts=()
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2> /dev/null; then
    kill -KILL "$server_pid" 2> /dev/null || true
    wait "$server_pid" 2> /dev/null || true
  fi
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount -R "${mounts[i]}" 2> /dev/null || umount -lR "${mounts[i]}" 2> /dev/null || log "could not unmount ${mounts[i]}"
  done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -f "$root/.debootstrap-complete" ]; then
  [ ! -e "$root" ] || [ -z "$(ls -A "$root")" ] ||
    fail "$root exists but holds no completed debootstrap: remove it (check that nothing is mounted under it)"
  log "debootstrap --variant=minbase bookworm $root"
  debootstrap --variant=minbase bookworm "$root" "$mirror"
  touch "$root/.debootstrap-complete"
else
  log "reusing the Debian tree in $root"
fi
# A stock Debian 12 install's sources (Chromium and Node.js updates come through bookworm-security); no services
# start inside the chroot; the host's DNS.
cat > "$root/etc/apt/sources.list" << EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${mirror%/debian}/debian-security bookworm-security main
EOF
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod +x "$root/usr/sbin/policy-rc.d"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"

for fs in proc sys dev; do
  case $fs in
    proc) mount -t proc proc "$root/proc" ;;
    sys) mount -t sysfs sysfs "$root/sys" ;;
    dev) mount --rbind /dev "$root/dev" && mount --make-rslave "$root/dev" ;;
  esac
  mounts+=("$root/$fs")
done

ca_env=()
if compgen -G '/usr/local/share/ca-certificates/*.crt' > /dev/null; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  ca_env=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt) # Node.js reads its own CA list, not the system's
fi
in_root() { chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 "${ca_env[@]}" \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin /bin/bash -c "$1"; }

log "apt-get install git ca-certificates curl (the rest is test.sh's job)"
in_root 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git ca-certificates curl > /dev/null && update-ca-certificates > /dev/null'

# The clone, and the shared folder beside it as the project expects it: fresh on every run.
rm -rf "$root/root/iotstream" "$root/root/shared"
git clone -q --no-hardlinks --no-checkout "$repo" "$root/root/iotstream"
git -C "$root/root/iotstream" checkout -q --detach "$head"
mkdir -p "$root/root/shared"
for dir in faces models; do
  [ ! -d "$shared/$dir" ] || cp -a "$shared/$dir" "$root/root/shared/$dir"
done
log "checking $head in $root/root/iotstream"

log "./test.sh"
if ! in_root 'cd /root/iotstream && ./test.sh'; then
  fail "./test.sh failed (output above)"
fi

# The server's ports 9003/9001 in a network namespace of its own: a server on this host cannot answer for it.
log "./start-high-performance.sh until /health answers on 9003 and 9001"
server_log=$root/tmp/start-high-performance.log
export root server_log health_wait_s
if ! unshare --net --fork bash -c '
  set -u
  ip link set lo up
  chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd /root/iotstream && exec ./start-high-performance.sh" > "$server_log" 2>&1 &
  pid=$!
  trap "kill -KILL $pid 2> /dev/null" EXIT
  answered() { curl -fsS --max-time 2 "http://127.0.0.1:$1/health" > /dev/null 2>&1; }
  deadline=$((SECONDS + health_wait_s))
  until answered 9003 && answered 9001; do
    if ! kill -0 $pid 2> /dev/null; then echo "start-high-performance.sh exited"; exit 1; fi
    if ((SECONDS >= deadline)); then echo "no /health on 9003 and 9001 within $health_wait_s s"; exit 1; fi
    sleep 1
  done
  echo "9003: $(curl -fsS --max-time 2 http://127.0.0.1:9003/health)"
  echo "9001: $(curl -fsS --max-time 2 http://127.0.0.1:9001/health)"
  kill -TERM $pid
  wait $pid
  status=$?
  trap - EXIT
  [ $status = 0 ] || { echo "iotstream exited with $status after SIGTERM"; exit 1; }
'; then
  tail -n 40 "$server_log"
  fail "start-high-performance.sh did not serve /health on 9003 and 9001 (log: $server_log)"
fi
tail -n 5 "$server_log"
result PASS "test.sh and start-high-performance.sh on a fresh Debian 12 ($head)"
