#!/usr/bin/env python3
"""Harness of bench/run.sh: `berth run --rm IMAGE true` against podman and ctr.

bench/run.sh prepares everything (binaries, the busybox image in each engine's
private store, a private containerd) and writes the engines' command lines to
ENGINES.json:

    {"rows": [{"name": ..., "argv": [...], "env": {...}, "ctr_ids": bool}, ...],
     "skipped": [{"name": ..., "reason": ...}],
     "rss": {"berth": {...}, "podman": {...}, "ctr": {...}}}

Every row first runs `sh -c 'echo bench-ok'` (its output is checked) and one
`true` as warm-up; then RUNS rounds, each running every row once (the order
rotates from round to round, so no engine always follows another), and the
medians are reported. Then each engine's monitor memory is read while it
supervises `sleep 1000`: VmRSS (/proc/PID/status) and Pss (/proc/PID/smaps_rollup)
of berth-shim, conmon and containerd-shim-runc-v2.

The harness makes itself a child subreaper, so the monitors that detach (berth-shim,
conmon) are re-parented to it and reaped (pid 1 on this machine does not reap).
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
DEVNULL = subprocess.DEVNULL


class BenchError(Exception):
    pass


def set_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class Runner:
    def __init__(self, work):
        self.errlog = os.path.join(work, "bench.stderr")

    def run(self, argv, env=None, capture=False, check=True):
        """Run argv; (seconds, stdout or None). stderr goes to a file, not a pipe."""
        full_env = dict(os.environ)
        full_env.update(env or {})
        with open(self.errlog, "w+b") as err:
            t0 = time.perf_counter()
            r = subprocess.run(argv, stdin=DEVNULL, env=full_env, stderr=err,
                               stdout=subprocess.PIPE if capture else DEVNULL)
            dt = time.perf_counter() - t0
            if check and r.returncode != 0:
                err.seek(0)
                msg = err.read().decode(errors="replace").strip()[-400:]
                raise BenchError(f"{' '.join(argv)}: exit {r.returncode}: {msg}")
        reap()
        out = r.stdout.decode(errors="replace") if capture else None
        return dt, out


def read_mem(pid):
    """(VmRSS kB, Pss kB) of pid."""
    rss = pss = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    if rss is None or pss is None:
        raise BenchError(f"no VmRSS/Pss for pid {pid}")
    return rss, pss


def comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def wait_gone(pid, name, timeout=5.0):
    """Wait until pid no longer runs `name` (exited or a zombie)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap()
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except FileNotFoundError:
            return True
        if f"({name})" not in stat or stat.rsplit(")", 1)[1].split()[0] == "Z":
            return True
        time.sleep(0.05)
    return False


# ------------------------------------------------------------------ timing

def bench_rows(runner, rows, runs):
    results = {}
    live = []
    for row in rows:
        name = row["name"]
        try:
            _, out = runner.run(argv_for(row, "ok", ["sh", "-c", "echo bench-ok"]),
                                row.get("env"), capture=True)
            if "bench-ok" not in out.split():
                raise BenchError(f"expected 'bench-ok', got {out.strip()[:200]!r}")
            runner.run(argv_for(row, "warm", ["true"]), row.get("env"))
            results[name] = []
            live.append(row)
        except BenchError as e:
            results[name] = e
            print(f"  {name}: not measured: {e}", file=sys.stderr)
    for i in range(runs):
        k = i % len(live) if live else 0
        for row in live[k:] + live[:k]:
            name = row["name"]
            if isinstance(results[name], BenchError):
                continue
            try:
                dt, _ = runner.run(argv_for(row, str(i), ["true"]), row.get("env"))
                results[name].append(dt)
            except BenchError as e:
                results[name] = e
                print(f"  {name}: failed in round {i + 1}: {e}", file=sys.stderr)
    return results


def argv_for(row, suffix, command):
    """The row's argv for one run; ctr needs a fresh container id each time."""
    argv = list(row["argv"])
    if row.get("ctr_ids"):
        argv.append(f"{row['id_prefix']}-{suffix}")
    return argv + command


# ------------------------------------------------------------------ memory

def berth_monitor(runner, spec):
    env = spec.get("env")
    _, out = runner.run(spec["argv"] + ["sleep", "1000"], env, capture=True)
    cid = out.strip().splitlines()[-1]
    run_root = env["BERTH_RUN_ROOT"]
    with open(os.path.join(run_root, cid, "shim.pid")) as f:
        pid = int(f.read().strip())
    if comm(pid) != "berth-shim":
        raise BenchError(f"pid {pid} from shim.pid is {comm(pid)!r}, not berth-shim")
    return pid, lambda: berth_stop(runner, spec, cid, pid)


def berth_stop(runner, spec, cid, pid):
    env = spec["env"]
    # `berth rm -f` when it exists; else what it does: no restart, SIGKILL
    # through the runtime, the monitor records the exit and deletes the container.
    try:
        runner.run([spec["berth"], "rm", "-f", "-v", cid], env)
        return
    except BenchError:
        pass
    open(os.path.join(env["BERTH_ROOT"], "containers", cid, "stopped"), "w").close()
    runner.run([spec["runtime"], "--root", os.path.join(env["BERTH_RUN_ROOT"], "runtime"),
                "kill", cid, "KILL"], check=False)
    if not wait_gone(pid, "berth-shim"):
        os.kill(pid, 9)
        wait_gone(pid, "berth-shim")


def podman_monitor(runner, spec):
    env = spec.get("env")
    _, out = runner.run(spec["argv"] + ["run", "-d"] + spec["run_opts"]
                        + [spec["image"], "sleep", "1000"], env, capture=True)
    cid = out.strip().splitlines()[-1]
    _, out = runner.run(spec["argv"] + ["inspect", "--format", "{{.State.ConmonPid}}", cid],
                        env, capture=True)
    pid = int(out.strip())
    if comm(pid) != "conmon":
        raise BenchError(f"ConmonPid {pid} is {comm(pid)!r}, not conmon")

    def stop():
        runner.run(spec["argv"] + ["rm", "-f", "-t", "0", cid], env, check=False)
        wait_gone(pid, "conmon")
    return pid, stop


def ctr_monitor(runner, spec):
    cid = spec["id_prefix"] + "-rss"
    runner.run(spec["argv"] + ["run", "-d", spec["image"], cid, "sleep", "1000"])

    def stop():
        runner.run(spec["argv"] + ["task", "kill", "-s", "SIGKILL", cid], check=False)
        for _ in range(50):
            _, out = runner.run(spec["argv"] + ["task", "ls"], capture=True, check=False)
            if not any(l.split()[:1] == [cid] and "RUNNING" in l for l in (out or "").splitlines()):
                break
            time.sleep(0.1)
        runner.run(spec["argv"] + ["task", "rm", "-f", cid], check=False)
        runner.run(spec["argv"] + ["container", "rm", cid], check=False)

    try:
        _, out = runner.run(spec["argv"] + ["task", "ls"], capture=True)
        init = next(int(l.split()[1]) for l in out.splitlines() if l.split()[:1] == [cid])
        with open(f"/proc/{init}/status") as f:
            pid = next(int(l.split()[1]) for l in f if l.startswith("PPid:"))
        if not comm(pid).startswith("containerd-shim"):
            raise BenchError(f"parent {pid} of the task is {comm(pid)!r}, not containerd-shim")
    except (BenchError, StopIteration, OSError) as e:
        stop()
        raise BenchError(f"ctr: no shim pid: {e}")
    return pid, stop


def bench_memory(runner, rss, settle):
    out = []
    for key, label, fn in (("berth", "berth-shim", berth_monitor),
                           ("podman", "conmon", podman_monitor),
                           ("ctr", "containerd-shim-runc-v2", ctr_monitor)):
        spec = rss.get(key)
        if not spec:
            continue
        try:
            pid, stop = fn(runner, spec)
        except BenchError as e:
            out.append((label, e))
            print(f"  {label}: not measured: {e}", file=sys.stderr)
            continue
        try:
            time.sleep(settle)
            out.append((label, read_mem(pid)))
        except (BenchError, OSError) as e:
            out.append((label, BenchError(str(e))))
        finally:
            stop()
    return out


# ------------------------------------------------------------------ report

def ms(s):
    return f"{s * 1000:.1f} ms"


def mb(kb):
    return f"{kb / 1024:.2f} MB"


def report(results, skipped, memory, runs, notes):
    medians = {n: statistics.median(v) for n, v in results.items()
               if not isinstance(v, BenchError) and v}
    podman = next((m for n, m in medians.items() if n.startswith("podman")), None)
    width = max(len(n) for n in list(results) + [s["name"] for s in skipped] + ["engine"])
    print()
    print(f"`run --rm IMAGE true` on the same busybox image, {runs} runs each, interleaved:")
    print()
    print(f"| {'engine'.ljust(width)} | median | min | max | podman/this |")
    print(f"|{'-' * (width + 2)}|---|---|---|---|")
    for name, v in results.items():
        if isinstance(v, BenchError) or not v:
            print(f"| {name.ljust(width)} | failed | – | – | – |")
            continue
        ratio = f"{podman / medians[name]:.1f}x" if podman else "–"
        print(f"| {name.ljust(width)} | {ms(medians[name])} | {ms(min(v))} | {ms(max(v))} | {ratio} |")
    for s in skipped:
        print(f"| {s['name'].ljust(width)} | skipped | – | – | – |")
    print()
    for s in skipped:
        print(f"skipped {s['name']}: {s['reason']}")
    for n in notes:
        print(n)
    if memory:
        print()
        print("The monitor's memory while it supervises `sleep 1000`:")
        print()
        lw = max(len(m[0]) for m in memory + [("monitor", 0)])
        print(f"| {'monitor'.ljust(lw)} | VmRSS | Pss |")
        print(f"|{'-' * (lw + 2)}|---|---|")
        for label, v in memory:
            if isinstance(v, BenchError):
                print(f"| {label.ljust(lw)} | failed | – |")
            else:
                print(f"| {label.ljust(lw)} | {mb(v[0])} | {mb(v[1])} |")
        got = dict(m for m in memory if not isinstance(m[1], BenchError))
        if "berth-shim" in got and "conmon" in got:
            b, c = got["berth-shim"], got["conmon"]
            print()
            print(f"conmon/berth-shim: VmRSS {c[0] / b[0]:.2f}x, Pss {c[1] / b[1]:.2f}x")
    failed = [n for n, v in results.items() if isinstance(v, BenchError) or not v]
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--engines", required=True, help="ENGINES.json written by bench/run.sh")
    ap.add_argument("--work", required=True)
    ap.add_argument("--settle", type=float, default=1.0,
                    help="seconds to let a sleeping container settle before reading memory")
    ap.add_argument("--no-rss", action="store_true")
    args = ap.parse_args()
    with open(args.engines) as f:
        engines = json.load(f)
    set_subreaper()
    runner = Runner(args.work)
    print(f"timing {len(engines['rows'])} engines, {args.runs} rounds ...", file=sys.stderr)
    results = bench_rows(runner, engines["rows"], args.runs)
    memory = [] if args.no_rss else bench_memory(runner, engines.get("rss", {}), args.settle)
    reap()
    return report(results, engines.get("skipped", []), memory, args.runs, engines.get("notes", []))


if __name__ == "__main__":
    sys.exit(main())
