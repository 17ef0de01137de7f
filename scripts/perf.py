#!/usr/bin/env python3
"""Measures flightdeck beside its peers in one run and prints the tables of docs/performance.md
(whose figures came from it).

    TUIPERF=/path/to/tuiperf python3 scripts/perf.py [--runs 3] [--idle 20] [--soak 300] [--no-benches]

Each program runs in a fresh 120x40 pseudo-terminal under tuiperf (first paint, RSS, idle CPU,
idle output, bytes and latency per selection move); medians of --runs runs. The peers are
installed when missing: htop and btop from Debian (when run as root), gitui and bottom with
`cargo install` into $PEERS_DIR (default ~/.cache/flightdeck-perf-peers). Then the in-process
benchmarks run (`cargo bench`). Raw JSON goes to --out (default target/perf).
"""

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PEERS = Path(os.environ.get("PEERS_DIR", Path.home() / ".cache/flightdeck-perf-peers"))
CRATES = {"gitui": "gitui@0.28.1", "btm": "bottom@0.15.0"}


def log(msg):
    print(f"perf: {msg}", file=sys.stderr, flush=True)


def tuiperf_path():
    path = os.environ.get("TUIPERF") or shutil.which("tuiperf")
    if not path:
        sys.exit("perf: set TUIPERF to the tuiperf script (or put tuiperf on PATH)")
    return path


def build():
    log("building flightdeck (release) and the floor example")
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "--bin", "flightdeck", "--example", "floor"],
        cwd=ROOT,
        check=True,
    )
    return TARGET / "release/flightdeck", TARGET / "release/examples/floor"


def peers():
    """The peers' binaries by name; a missing one that cannot be installed is left out."""
    found = {}
    for name in ("htop", "btop"):
        if not shutil.which(name) and os.geteuid() == 0:
            log(f"installing {name} from Debian")
            subprocess.run(["apt-get", "install", "-y", "-q", name], check=False)
        if shutil.which(name):
            found[name] = shutil.which(name)
    missing = [spec for name, spec in CRATES.items() if not (PEERS / "bin" / name).exists()]
    if missing:
        log(f"installing {' '.join(missing)} into {PEERS} (several minutes)")
        subprocess.run(
            ["cargo", "install", "--locked", "--root", str(PEERS), *missing], check=False
        )
    for name in CRATES:
        if (PEERS / "bin" / name).exists():
            found[name] = str(PEERS / "bin" / name)
    return found


class Ok(BaseHTTPRequestHandler):
    """The endpoint the big workspace's 500 checks probe."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_):
        pass


class Server(ThreadingHTTPServer):
    """Takes 500 probes at once; a probe that gives up early is not an error here."""

    request_queue_size = 1024
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


def serve():
    server = Server(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def big_workspace(fd, home, port):
    """10,000 backlog items, 2,000 runs and 500 HTTP checks, in a fresh state dir."""
    cfg = home / "big.toml"
    lines = [
        'workspace = "big"',
        "[[pipelines]]",
        'name = "ci"',
        'steps = [{ name = "test", run = ["true"] }]',
    ]
    for i in range(500):
        lines += [
            "[[checks]]",
            f'name = "svc-{i:03}"',
            'kind = "http"',
            f'url = "http://127.0.0.1:{port}/healthz"',
            f'service = "svc-{i % 50:02}"',
            "interval_secs = 15",
            "incident = false",
        ]
    cfg.write_text("\n".join(lines) + "\n")
    cfg.chmod(0o600)
    env = {**os.environ, "HOME": str(home), "FLIGHTDECK_STATE_DIR": str(home / "state")}
    subprocess.run([fd, "--config", str(cfg), "status", "--json"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    db = sqlite3.connect(home / "state/big/store.db")
    now = int(time.time())
    db.executemany(
        "INSERT INTO items (title, body, state, kind, labels, author, created, updated)"
        " VALUES (?, ?, ?, 'issue', '[\"perf\"]', 'perf', ?, ?)",
        [
            (f"Item {i}: latency regression in service {i % 50}", "body " * 20,
             "closed" if i % 3 == 2 else "open", now - i * 60, now - i * 30)
            for i in range(10_000)
        ],
    )
    for n in range(1, 2001):
        cur = db.execute(
            "INSERT INTO runs (pipeline, number, branch, trigger, actor, status, started,"
            " finished, log_path) VALUES ('ci', ?, 'main', 'manual', 'perf', ?, ?, ?, '')",
            (n, "success" if n % 7 else "failure", now - (2001 - n) * 600,
             now - (2001 - n) * 600 + 90),
        )
        db.execute(
            "INSERT INTO run_steps (run_id, idx, name, status, exit_code, started, duration_ms)"
            " VALUES (?, 0, 'test', ?, 0, ?, 90000)",
            (cur.lastrowid, "success" if n % 7 else "failure", now - (2001 - n) * 600),
        )
    db.commit()
    db.close()
    return cfg


def programs(fd, floor, found, tmp, port):
    """(label, argv, env, cwd, until marker, note) for every program measured."""
    def home(name):
        h = tmp / name
        h.mkdir(parents=True, exist_ok=True)
        return h

    quiet = home("fd-quiet")
    (quiet / "quiet.toml").write_text('workspace = "quiet"\n')
    (quiet / "quiet.toml").chmod(0o600)
    big = home("fd-big")
    big_cfg = big_workspace(fd, big, port)
    repo = tmp / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    rows = [
        ("floor: minimal ratatui list, redraw on input", [str(floor)], {}, None, "Floor"),
        ("flightdeck, workspace with nothing changing",
         [fd, "--config", str(quiet / "quiet.toml")], fd_env(quiet), None, "Backlog"),
        ("flightdeck, demo workspace with live health", [fd], demo_env(fd, home("fd-demo")),
         None, "Welcome to flightdeck"),
        ("flightdeck, 10,000 items, 2,000 runs, 500 checks",
         [fd, "--config", str(big_cfg)], fd_env(big), None, "Item 0:"),
    ]
    extra = {
        "gitui": ([found.get("gitui")], repo, "Unstaged"),
        "btm": ([found.get("btm")], None, "CPU"),
        "btop": ([found.get("btop")], None, "cpu"),
        "htop": ([found.get("htop")], None, "PID"),
    }
    for name, (argv, cwd, until) in extra.items():
        if argv[0]:
            rows.append((f"{name} ({version(argv[0])})", argv, {"HOME": str(home(name))},
                         cwd, until))
    return rows


def fd_env(home):
    return {"HOME": str(home), "FLIGHTDECK_STATE_DIR": str(home / "state")}


def demo_env(fd, home):
    """The demo with v1 deployed, so its health checks probe and scrape three live nodes."""
    env = fd_env(home)
    subprocess.run([fd, "deploy", "demo-api", "v1", "--yes"], env={**os.environ, **env},
                   check=True, stdout=subprocess.DEVNULL)
    return env


def version(binary):
    out = subprocess.run([binary, "--version"], capture_output=True, text=True)
    words = (out.stdout or out.stderr).split()
    return next((w.lstrip("v") for w in words if w[:1].isdigit() or w[:2] == "v0"), "?")


def measure(tuiperf, label, argv, env, cwd, until, args, out):
    cmd = [tuiperf, "-n", str(args.runs), "--size", "120x40", "--idle", str(args.idle),
           "--until", until, "--timeout", "30", "--json", "--out", str(out), "--label", label]
    for k, v in env.items():
        cmd += ["--env", f"{k}={v}"]
    if cwd:
        cmd += ["--cwd", str(cwd)]
    log(f"measuring {label}")
    subprocess.run(cmd + ["--", *argv], check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text())["median"]


def stop_demo(fd, env):
    subprocess.run([fd, "demo", "--stop"], env={**os.environ, **env},
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def table(results):
    head = ("| program | first paint | RSS | idle CPU (one core) | idle output | "
            "bytes per selection move | key → output |\n| --- | --- | --- | --- | --- | --- | --- |")
    rows = [head]
    for label, m in results:
        rows.append(
            f"| {label} | {m.get('until_ms', '?')} ms | {m.get('rss_mb')} MB "
            f"(peak {m.get('rss_peak_mb')}) | {m.get('idle_cpu_pct')} % | "
            f"{m.get('idle_bytes_per_s')} B/s | {m.get('move_bytes_median')} B "
            f"(net {m.get('move_bytes_net')}) | {m.get('move_latency_ms_median')} ms |"
        )
    return "\n".join(rows)


def benches():
    log("running the in-process benchmarks")
    out = subprocess.run(
        ["cargo", "bench", "--locked", "--bench", "render", "--bench", "health",
         "--bench", "logfile", "--bench", "deploy"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    )
    return out.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle", type=int, default=20)
    parser.add_argument("--out", type=Path, default=TARGET / "perf")
    parser.add_argument("--no-benches", action="store_true")
    parser.add_argument("--soak", type=int, default=0,
                        help="also idle the demo this many seconds once (memory over time)")
    args = parser.parse_args()
    tuiperf = tuiperf_path()
    fd, floor = build()
    found = peers()
    args.out.mkdir(parents=True, exist_ok=True)
    server = serve()
    results = []
    with tempfile.TemporaryDirectory(prefix="fd-perf-") as t:
        tmp = Path(t)
        for i, (label, argv, env, cwd, until) in enumerate(
            programs(str(fd), floor, found, tmp, server.server_address[1])
        ):
            try:
                m = measure(tuiperf, label, argv, env, cwd, until, args,
                            args.out / f"{i:02}.json")
                results.append((label, m))
            except subprocess.CalledProcessError as e:
                log(f"{label}: tuiperf failed ({e})")
            if argv[0] == str(fd):
                stop_demo(str(fd), env)
        if args.soak:
            env = demo_env(str(fd), tmp / "fd-soak")
            soak = argparse.Namespace(runs=1, idle=args.soak)
            label = f"flightdeck, demo workspace, {args.soak} s idle"
            try:
                results.append((label, measure(tuiperf, label, [str(fd)], env, None,
                                               "Welcome to flightdeck", soak,
                                               args.out / "soak.json")))
            except subprocess.CalledProcessError as e:
                log(f"soak: tuiperf failed ({e})")
            stop_demo(str(fd), env)
    server.shutdown()
    print(f"## Side by side ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, 120x40, "
          f"median of {args.runs}, {args.idle} s idle)\n")
    print(table(results))
    missing = [n for n in ("htop", "btop", *CRATES) if n not in found]
    if missing:
        print(f"\nNot measured (could not be installed): {', '.join(missing)}")
    if not args.no_benches:
        print("\n## In-process benchmarks (`cargo bench`)\n\n```")
        print(benches().strip())
        print("```")


if __name__ == "__main__":
    main()
