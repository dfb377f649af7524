#!/bin/sh
# Installs the Debian packages autoresearch needs, if any is missing (fresh Debian/Ubuntu).
# --test adds what only the tests need: a headless browser (Debian's chromium-headless-shell,
# else chromium), which loads the HTML report, xmllint, which checks the SVG and HTML, and
# Slurm's controller, node daemon and clients, which tests/pool.test.sh starts as a real
# single-node cluster on loopback (their packaged services are not used).
set -e
PKGS="build-essential pkg-config libseccomp-dev libpcre2-dev zlib1g-dev libcurl4-openssl-dev libssl-dev libdnnl-dev libpng-dev libgsl-dev git procps gzip"
browser=""
if [ "${1:-}" = "--test" ]; then
    PKGS="$PKGS libxml2-utils slurmctld slurmd slurm-client"
    command -v chromium-headless-shell >/dev/null || command -v chromium >/dev/null || browser=yes
fi
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && [ -z "$browser" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
if [ -n "$browser" ]; then   # the headless shell is a fraction of the full browser's size
    if apt-cache policy chromium-headless-shell 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        missing="$missing chromium-headless-shell"
    else
        missing="$missing chromium"
    fi
fi
echo "install-deps: installing:$missing"
$SUDO apt-get install -y -qq --no-install-recommends $missing
