#!/usr/bin/env bash
# Installs svaemu's build dependencies from Debian 12 packages.
set -euo pipefail
pkgs=(g++ cmake ninja-build ccache
      libabsl-dev libboost-dev libspdlog-dev libfmt-dev
      libgtest-dev libgmock-dev libbenchmark-dev)
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "svaemu: dependencies installed"
