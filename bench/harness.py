#!/usr/bin/env python3
"""Benchmark harness for bench/runtime.sh: times berth-runtime, runc and crun.

Every runtime runs through the same wrapper,
    unshare -m sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"' sh RUNTIME ...
(crun refuses this host's hybrid cgroup layout otherwise), so the wrapper's own
cost is measured too, with the bare `unshare ... true` namespace baseline.

The harness makes itself a child subreaper (prctl(PR_SET_CHILD_SUBREAPER)):
container init processes re-parent to it when the runtime exits, so it can
wait for them and no zombies are left (pid 1 on this machine does not reap).
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
WRAPPER = ["unshare", "-m", "sh", "-c",
           'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"', "sh"]
BASELINE = ["unshare", "--fork", "--pid", "--mount", "--net", "--ipc", "--uts",
            "--mount-proc", "true"]
DEVNULL = subprocess.DEVNULL
ERRLOG = "/dev/null"  # set in main() to a file in --tmp


class BenchError(Exception):
    pass


def set_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def reap():
    """Collect every exited child (including adopted orphans) without blocking."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def wait_pid(pid, timeout=30.0):
    """Wait for an adopted child to exit."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got, _ = os.waitpid(pid, os.WNOHANG)
            if got == pid:
                return
        except ChildProcessError:
            # Not (or no longer) our child: poll /proc until it is gone or a zombie.
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        return
            except FileNotFoundError:
                return
        if time.monotonic() > deadline:
            raise BenchError(f"pid {pid} did not exit")
        time.sleep(0.0005)


def sh(cmd, check=True):
    # stderr goes to a file, not a pipe: a created container's init keeps the
    # runtime's stdio open, and a pipe would never reach EOF.
    with open(ERRLOG, "w+b") as err:
        r = subprocess.run(cmd, stdin=DEVNULL, stdout=DEVNULL, stderr=err)
        if check and r.returncode != 0:
            err.seek(0)
            msg = err.read().decode(errors="replace").strip()[:300]
            raise BenchError(f"{' '.join(cmd)}: exit {r.returncode}: {msg}")
    return r.returncode


def timed(cmd):
    t0 = time.perf_counter()
    sh(cmd)
    return time.perf_counter() - t0


class Runtime:
    def __init__(self, name, path, root):
        self.name, self.path, self.root = name, path, root
        self.seq = 0

    def cmd(self, *args):
        return WRAPPER + [self.path, "--root", self.root] + list(args)

    def new_id(self):
        self.seq += 1
        return f"bench-{os.getpid()}-{self.name}-{self.seq}"

    def read_pid(self, pidfile):
        with open(pidfile) as f:
            return int(f.read().strip())

    def bench_run(self, bundle):
        cid = self.new_id()
        try:
            return timed(self.cmd("run", "-b", bundle, cid))
        finally:
            sh(self.cmd("delete", "-f", cid), check=False)
            reap()

    def bench_lifecycle(self, bundle, tmp):
        cid = self.new_id()
        pidfile = os.path.join(tmp, cid + ".pid")
        try:
            t0 = time.perf_counter()
            sh(self.cmd("create", "-b", bundle, "--pid-file", pidfile, cid))
            pid = self.read_pid(pidfile)
            sh(self.cmd("start", cid))
            wait_pid(pid)
            sh(self.cmd("delete", cid))
            return time.perf_counter() - t0
        finally:
            sh(self.cmd("delete", "-f", cid), check=False)
            reap()

    def bench_rss(self, bundle, tmp):
        cid = self.new_id()
        pidfile = os.path.join(tmp, cid + ".pid")
        try:
            sh(self.cmd("create", "-b", bundle, "--pid-file", pidfile, cid))
            pid = self.read_pid(pidfile)
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])  # kB
            raise BenchError("no VmRSS line")
        finally:
            sh(self.cmd("delete", "-f", cid), check=False)
            reap()

    def start_sleeper(self, bundle):
        cid = self.new_id()
        sh(self.cmd("run", "-d", "-b", bundle, cid))
        return cid

    def bench_exec(self, cid):
        t = timed(self.cmd("exec", cid, "/bin/true"))
        reap()
        return t

    def stop_sleeper(self, cid):
        sh(self.cmd("kill", cid, "KILL"), check=False)
        time.sleep(0.05)
        sh(self.cmd("delete", "-f", cid), check=False)
        reap()


def median_of(n, fn):
    vals = [fn() for _ in range(n)]
    return statistics.median(vals)


def measure(rt, args):
    res = {}
    tests = [
        ("run /bin/true", lambda: rt.bench_run(args.bundle)),
        ("create+start+wait+delete", lambda: rt.bench_lifecycle(args.bundle, args.tmp)),
    ]
    if args.seccomp_bundle:
        tests.append(("run, podman seccomp profile", lambda: rt.bench_run(args.seccomp_bundle)))
    for name, fn in tests:
        try:
            fn()  # warm-up
            res[name] = median_of(args.runs, fn)
        except BenchError as e:
            res[name] = None
            print(f"{rt.name}: {name}: {e}", file=sys.stderr)
    name = "exec /bin/true"
    try:
        cid = rt.start_sleeper(args.sleep_bundle)
        try:
            rt.bench_exec(cid)
            res[name] = median_of(args.runs, lambda: rt.bench_exec(cid))
        finally:
            rt.stop_sleeper(cid)
    except BenchError as e:
        res[name] = None
        print(f"{rt.name}: {name}: {e}", file=sys.stderr)
    name = "VmRSS of created container (kB)"
    try:
        res[name] = median_of(min(args.runs, 10), lambda: rt.bench_rss(args.bundle, args.tmp))
    except BenchError as e:
        res[name] = None
        print(f"{rt.name}: {name}: {e}", file=sys.stderr)
    return res


def fmt(metric, v):
    if v is None:
        return "error"
    if metric.endswith("(kB)"):
        return f"{v:.0f}"
    return f"{v * 1000:.2f} ms"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bundle", required=True, help="bundle running /bin/true")
    ap.add_argument("--sleep-bundle", required=True, help="bundle running sleep (same rootfs)")
    ap.add_argument("--seccomp-bundle", help="bundle running /bin/true under a seccomp profile")
    ap.add_argument("--tmp", required=True, help="private directory for state and pid files")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("runtimes", nargs="+", help="NAME=PATH")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error("--runs must be >= 1")

    global ERRLOG
    ERRLOG = os.path.join(args.tmp, "stderr.log")
    set_subreaper()
    results = {}
    for spec in args.runtimes:
        name, _, path = spec.partition("=")
        if not path or not os.access(path, os.X_OK):
            ap.error(f"bad runtime {spec!r} (want NAME=PATH to an executable)")
        root = os.path.join(args.tmp, "root-" + name)
        os.makedirs(root, exist_ok=True)
        print(f"measuring {name} ({path}), {args.runs} runs each...", file=sys.stderr)
        results[name] = measure(Runtime(name, path, root), args)

    base = {}
    base["unshare baseline"] = median_of(args.runs, lambda: timed(BASELINE))
    base["wrapper alone"] = median_of(args.runs, lambda: timed(WRAPPER + ["true"]))
    reap()

    names = list(results)
    metrics = list(next(iter(results.values())).keys())
    cols = names + [f"{names[0][:5]}/{other}" for other in ("runc", "crun") if other in results and other != names[0]]
    w0 = max(len(m) for m in metrics + list(base)) + 2
    print(f"\nmedian of {args.runs} runs\n")
    print(f"{'':<{w0}}" + "".join(f"{c:>16}" for c in cols))
    for m in metrics:
        row = [fmt(m, results[n][m]) for n in names]
        for other in ("runc", "crun"):
            if other in results and other != names[0]:
                row.append(ratio(results[names[0]][m], results[other][m]))
        print(f"{m:<{w0}}" + "".join(f"{c:>16}" for c in row))
    print()
    for k, v in base.items():
        print(f"{k:<{w0}}{fmt(k, v):>14}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": args.runs, "results": results, "baseline": base}, f, indent=2)


if __name__ == "__main__":
    main()
