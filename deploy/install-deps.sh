#!/bin/sh
# Installs what taskmill needs to build and test, from Debian 12's packages,
# skipping the install when everything is already there. prometheus (promtool
# and a real server) and chromium (headless) are for the HTTP tests only;
# the last line is what the deploy tests check artefacts with.
set -eu
PACKAGES="build-essential cmake pkg-config libzmq3-dev libczmq-dev libprotobuf-c-dev
protobuf-c-compiler libcmocka-dev libjansson-dev libssl-dev python3
python3-zmq python3-protobuf protobuf-compiler libsimdjson-dev iproute2 tmux tcpdump
libmicrohttpd-dev prometheus chromium
help2man file shellcheck yamllint python3-yaml systemd docker-compose nodejs slurm-wlm munge"
missing=""
for package in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $package"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
$SUDO apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
