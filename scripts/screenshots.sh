#!/usr/bin/env bash
# Regenerates screenshots/*.png from real screens of the demo workspace: the release binary
# runs in tmux, each scene's keys are typed, the pane is captured with its colours, turned
# into HTML by aha and photographed by headless Chromium.
# Needs: tmux aha chromium fonts-dejavu-core (apt-get install -y tmux aha chromium fonts-dejavu-core).
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in tmux aha chromium; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y tmux aha chromium fonts-dejavu-core" >&2; exit 1; }
done
cargo build --release --quiet
bin="$PWD/target/release/flightdeck"
work=$(mktemp -d)
cleanup() {
  rm -f "$work/github.url"
  rm -rf "$work"
}
trap cleanup EXIT
out="$PWD/screenshots"
mkdir -p "$out"

# shot NAME COLS ROWS "ARGS" KEYS... — KEYS are tmux send-keys words, "sleep" pauses briefly.
# ONLY=WORD regenerates only the shots whose name contains WORD.
shot() {
  local name=$1 cols=$2 rows=$3 args=$4
  shift 4
  if [ -n "${ONLY:-}" ] && [[ "$name" != *"$ONLY"* ]]; then return 0; fi
  local state="$work/state-$name"
  local sock="fdshots-$name-$$"
  # RUNS=N before `shot` runs demo-ci N times first, so the builds pane has history.
  for _ in $(seq 1 "${RUNS:-0}"); do
    env HOME="$work" FLIGHTDECK_STATE_DIR="$state" "$bin" run demo-ci >/dev/null 2>&1
  done
  # DEPLOYS="v1 v2" deploys those versions to the demo fleet first (a failing one is fine).
  for v in ${DEPLOYS:-}; do
    env HOME="$work" FLIGHTDECK_STATE_DIR="$state" "$bin" deploy demo-api "$v" >/dev/null 2>&1 || true
  done
  tmux -L "$sock" new-session -d -x "$cols" -y "$rows" \
    "env HOME=$work TERM=xterm-256color COLORTERM=truecolor FLIGHTDECK_STATE_DIR=$state $bin $args"
  sleep 1
  # WAIT=N lets the health checks gather N seconds of samples (sparklines, forecasts) first.
  sleep "${WAIT:-0}"
  for k in "$@"; do
    if [ "$k" = sleep ]; then sleep 0.6; else tmux -L "$sock" send-keys "$k"; sleep 0.15; fi
  done
  sleep 0.6
  tmux -L "$sock" capture-pane -e -p > "$work/$name.ansi"
  tmux -L "$sock" kill-server
  env HOME="$work" FLIGHTDECK_STATE_DIR="$state" "$bin" demo --stop >/dev/null 2>&1 || true
  {
    printf '<!doctype html><meta charset="utf-8"><style>'
    printf 'body{margin:0;background:#16161e}'
    printf 'pre{margin:0;padding:10px;font:14px/16px "DejaVu Sans Mono",monospace;color:#c0caf5;background:#16161e}'
    printf '</style><pre>'
    aha --no-header < "$work/$name.ansi"
    printf '</pre>'
  } > "$work/$name.html"
  local w=$(( cols * 843 / 100 + 20 )) h=$(( rows * 16 + 20 ))
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/chromium" --hide-scrollbars \
    --window-size="$w,$h" --screenshot="$out/$name.png" "file://$work/$name.html" 2>/dev/null
  echo "screenshots/$name.png"
}

RUNS=1 DEPLOYS="v1 v2" shot cockpit-160x48 160 48 ""
DEPLOYS="v1 v2" shot deploy-plan-120x32 120 32 "" 3 d j j Enter
DEPLOYS="v1" shot deploy-rolling-120x32 120 32 "" 3 d Enter y sleep sleep
DEPLOYS="v1 v2 v3" shot deploy-history-120x32 120 32 "" 3 z Enter
shot backlog-80x24 80 24 ""
shot detail-80x24 80 24 "" j Enter
shot new-incident-120x32 120 32 "" n "Disk on db-1 at 91% and rising" Tab Right Tab Left Tab "db, capacity" Tab "Grows ~2%/h since the **v2** deploy."
RUNS=2 shot builds-160x48 160 48 "" 2 p Enter sleep sleep sleep
RUNS=1 shot run-detail-120x32 120 32 "" 2 Enter
DEPLOYS="v1" WAIT=70 shot health-120x32 120 32 "" 4 z
DEPLOYS="v1" WAIT=70 shot health-chart-120x32 120 32 "" 4 z j j j Enter
DEPLOYS="v1 v3" WAIT=6 shot incident-evidence-120x32 120 32 "" z g Enter
shot help-80x24 80 24 "" "?"
shot palette-120x32 120 32 "" ":" "lab"
shot light-theme-120x32 120 32 "--theme light" j
shot ansi16-theme-80x24 80 24 "--theme ansi16" a a
shot no-color-80x24 80 24 "--color never" j

# GitHub: the tests' loopback GitHub API (issues, Actions runs, a dispatchable workflow).
if [ -z "${ONLY:-}" ] || [[ github == *"$ONLY"* ]]; then
  FAKE_GITHUB_URL_FILE="$work/github.url" cargo nextest run --test github serve_fake_github \
    --run-ignored only --no-capture >/dev/null 2>&1 &
  for _ in $(seq 1 600); do [ -s "$work/github.url" ] && break; sleep 0.5; done
  cat > "$work/github.toml" <<EOF_TOML
workspace = "acme"
[backlog]
provider = "gh"
[builds]
provider = "gh"
[[providers]]
id = "gh"
kind = "github"
repos = ["acme/api", "acme/web"]
api_url = "$(cat "$work/github.url")"
EOF_TOML
  shot github-120x32 120 32 "--config $work/github.toml" 2 j
  shot github-run-log-120x32 120 32 "--config $work/github.toml" 2 j Enter sleep
  shot github-dispatch-120x32 120 32 "--config $work/github.toml" 2 p sleep Enter Tab Right
  rm -f "$work/github.url"
fi
