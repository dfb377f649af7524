#!/bin/sh
# Installs the Debian packages autoresearch needs, if any is missing (fresh Debian/Ubuntu).
set -e
PKGS="build-essential pkg-config libpcre2-dev zlib1g-dev libcurl4-openssl-dev libssl-dev libdnnl-dev libpng-dev libgsl-dev git procps gzip"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
