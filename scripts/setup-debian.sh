#!/usr/bin/env bash
# setup-debian.sh - installs what vpnscope needs to build, run and test on Debian 12 (run as root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
pkgs=(build-essential cmake pkg-config clang clang-format-14 libclang-rt-14-dev git
      libpcap-dev libndpi-dev libgcrypt20-dev libncurses-dev zlib1g-dev libzstd-dev
      tshark tcpdump tmux tcpreplay iproute2 python3 time procps parallel
      nftables conntrack python3-scapy wireguard-go wireguard-tools iputils-ping)   # the last six: the capture labs in tests/lab/
pkgs+=(chromium)   # headless: renders the --html report in tests/scripts/crosscheck_html.sh
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    $SUDO apt-get update -qq
    # tshark asks whether non-root users may capture: answer no, non-interactively
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all packages present"
