#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what it needs (cargo-nextest, and the
# Debian packages the tests run for real), then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest

# Ansible (the ansible deploy engine's tests), Prometheus, node_exporter and Alertmanager (the
# health tests start them on loopback, plain and behind TLS), and tinyproxy (the proxy test).
missing=()
command -v ansible-playbook >/dev/null || missing+=(ansible-core)
[ -x /usr/bin/prometheus ] || missing+=(prometheus)
[ -x /usr/bin/prometheus-node-exporter ] || missing+=(prometheus-node-exporter)
[ -x /usr/bin/prometheus-alertmanager ] || missing+=(prometheus-alertmanager)
command -v tinyproxy >/dev/null || missing+=(tinyproxy)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

cargo nextest run --locked --no-fail-fast
