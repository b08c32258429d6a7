#!/usr/bin/env python3
"""Image benchmark for bench/image.sh: berth-image vs skopeo pulling and pushing one image.

Builds an OCI layout holding a multi-layer image of random (incompressible) data, serves it
from a docker-registry on 127.0.0.1, then times, alternating the tools run by run:

  pull:  TOOL copy docker://127.0.0.1:PORT/bench:latest oci:DIR:latest
  push:  TOOL copy oci:SRC:latest docker://127.0.0.1:PORT2/bench:latest
         (each push run gets a fresh registry with empty storage, so nothing is skipped)

Wall time comes from time.perf_counter() around the child; peak RSS is the child's
ru_maxrss as `/usr/bin/time -f %M` prints it (or a tiny Python wrapper's getrusage when GNU
time is missing). Every run's result is
checked (the layout or the registry holds every layer with the right size); a tool whose
first run fails is reported as not available and the others are still measured.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_SHARES = [0.40, 0.25, 0.15, 0.10, 0.10]


class BenchError(Exception):
    pass


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- image


def write_blob(root, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(os.path.join(root, "blobs", "sha256", digest[7:]), "wb") as f:
        f.write(data)
    return {"digest": digest, "size": len(data)}


def build_image(root, total_bytes, layers):
    """OCI layout at ROOT, tag latest: LAYERS tar.gz layers of random data."""
    os.makedirs(os.path.join(root, "blobs", "sha256"))
    with open(os.path.join(root, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    shares = LAYER_SHARES if layers == len(LAYER_SHARES) else [1.0 / layers] * layers
    descs, diff_ids = [], []
    for i, share in enumerate(shares):
        data = os.urandom(int(total_bytes * share))
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo(f"data/layer{i}.bin")
            info.size, info.mode, info.mtime = len(data), 0o644, 1700000000
            tar.addfile(info, io.BytesIO(data))
        tar_bytes = raw.getvalue()
        diff_ids.append("sha256:" + hashlib.sha256(tar_bytes).hexdigest())
        gz = gzip.compress(tar_bytes, compresslevel=1, mtime=0)
        descs.append(dict(mediaType=MT_LAYER, **write_blob(root, gz)))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    cdesc = write_blob(root, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": dict(mediaType=MT_CONFIG, **cdesc),
        "layers": descs,
    }
    mdesc = write_blob(root, json.dumps(manifest).encode())
    index = {
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [dict(mediaType=MT_MANIFEST, annotations={"org.opencontainers.image.ref.name": "latest"}, **mdesc)],
    }
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(index, f)
    return mdesc["digest"], descs


# ---------------------------------------------------------------- registry


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """docker-registry on 127.0.0.1 with storage under WORK; its pid goes to PIDFILE."""

    seq = 0

    def __init__(self, work, pidfile):
        Registry.seq += 1
        self.dir = os.path.join(work, f"registry{Registry.seq}")
        os.makedirs(os.path.join(self.dir, "storage"))
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\n"
                f"storage:\n  filesystem:\n    rootdirectory: {self.dir}/storage\n"
                f"http:\n  addr: {self.host}\n  secret: berth-bench\n"
            )
        self.log = open(os.path.join(self.dir, "registry.log"), "wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", cfg], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        with open(pidfile, "a") as f:
            f.write(f"{self.proc.pid}\n")
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"docker-registry exited: {self.tail()}")
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1).close()
                return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"docker-registry did not answer: {self.tail()}")
            time.sleep(0.05)

    def tail(self):
        with open(os.path.join(self.dir, "registry.log"), "rb") as f:
            return f.read()[-2000:].decode(errors="replace")

    def stop(self, remove=False):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        if remove:
            shutil.rmtree(self.dir)

    def check_image(self, repo, layers):
        """The registry serves REPO:latest and every layer with its size."""
        req = urllib.request.Request(f"http://{self.host}/v2/{repo}/manifests/latest",
                                     headers={"Accept": MT_MANIFEST})
        try:
            urllib.request.urlopen(req, timeout=10).close()
            for l in layers:
                req = urllib.request.Request(f"http://{self.host}/v2/{repo}/blobs/{l['digest']}", method="HEAD")
                with urllib.request.urlopen(req, timeout=10) as r:
                    if int(r.headers.get("Content-Length", -1)) != l["size"]:
                        raise BenchError(f"blob {l['digest']} has the wrong size in the registry")
        except urllib.error.HTTPError as e:
            raise BenchError(f"registry lacks the pushed image: {e}") from None


# ---------------------------------------------------------------- measuring


# Peak RSS is read by a small wrapper process, not from this one's wait4(): a child forked
# from this (large) Python process starts with Python's RSS as its high-water mark.
TIME_WRAPPER = ["/usr/bin/time", "-f", "%M", "-o"]
PY_WRAPPER = [sys.executable, "-c", """
import resource, subprocess, sys
rc = subprocess.call(sys.argv[2:])
with open(sys.argv[1], "w") as f:
    f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(rc)
"""]


def run_measured(cmd, env, errlog):
    """Run CMD; return (wall seconds, peak RSS kB). Raises BenchError on failure."""
    rssfile = errlog + ".rss"
    wrapper = TIME_WRAPPER if os.access(TIME_WRAPPER[0], os.X_OK) else PY_WRAPPER
    with open(errlog, "w+b") as err:
        t0 = time.perf_counter()
        rc = subprocess.call(wrapper + [rssfile] + cmd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err, env=env)
        wall = time.perf_counter() - t0
        if rc != 0:
            err.seek(0)
            msg = [l for l in err.read().decode(errors="replace").splitlines()
                   if l.strip() and not l.startswith("Command exited with non-zero status")]
            raise BenchError(f"exit {rc}: {' | '.join(msg[-3:])[:400]}")
    with open(rssfile) as f:
        return wall, int(f.read().split()[-1])


def check_layout(dest, layers):
    if not os.path.isfile(os.path.join(dest, "index.json")):
        raise BenchError(f"no index.json in {dest}")
    for l in layers:
        p = os.path.join(dest, "blobs", "sha256", l["digest"][7:])
        if not os.path.isfile(p) or os.path.getsize(p) != l["size"]:
            raise BenchError(f"layer {l['digest']} missing or truncated in {dest}")


class Tool:
    def __init__(self, name, pull_cmd, push_cmd):
        self.name, self.pull_cmd, self.push_cmd = name, pull_cmd, push_cmd
        self.results = {}     # metric -> list
        self.error = {}       # phase -> message


def median(vals):
    return statistics.median(vals) if vals else None


def bench_pull(tools, args, reg, layers, env):
    src = f"docker://{reg.host}/bench:latest"
    for i in range(args.runs + 1):  # run 0 is the warm-up
        for t in tools:
            if "pull" in t.error:
                continue
            dest = os.path.join(args.work, f"pull-{t.name}")
            cmd = t.pull_cmd(src, f"oci:{dest}:latest")
            try:
                wall, rss = run_measured(cmd, env, os.path.join(args.work, "stderr.log"))
                check_layout(dest, layers)
            except BenchError as e:
                t.error["pull"] = str(e)
                log(f"{t.name}: pull: {e}")
                continue
            finally:
                if os.path.isdir(dest):
                    shutil.rmtree(dest)
            if i > 0:
                t.results.setdefault("pull wall", []).append(wall)
                t.results.setdefault("pull peak RSS", []).append(rss)


def bench_push(tools, args, src_layout, layers, env):
    src = f"oci:{src_layout}:latest"
    for i in range(args.runs + 1):
        for t in tools:
            if "push" in t.error:
                continue
            reg = Registry(args.work, args.pidfile)  # fresh storage: nothing to skip or mount
            try:
                wall, rss = run_measured(t.push_cmd(src, f"docker://{reg.host}/bench:latest"), env,
                                         os.path.join(args.work, "stderr.log"))
                reg.check_image("bench", layers)
            except BenchError as e:
                t.error["push"] = str(e)
                log(f"{t.name}: push: {e}")
                continue
            finally:
                reg.stop(remove=True)
            if i > 0:
                t.results.setdefault("push wall", []).append(wall)
                t.results.setdefault("push peak RSS", []).append(rss)


def fmt(metric, v):
    if v is None:
        return "n/a"
    if metric.endswith("RSS"):
        return f"{v / 1024:.1f} MB"
    return f"{v:.3f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", required=True, help="private directory (created by the caller)")
    ap.add_argument("--pidfile", required=True, help="append the pid of every registry started here")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size-mb", type=float, default=100, help="random data in the image, MB (1e6 bytes)")
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--no-push", action="store_true")
    ap.add_argument("--berth", help="berth-image binary (reported as not available if missing or failing)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if args.runs < 1 or args.layers < 1 or args.size_mb <= 0:
        ap.error("--runs and --layers must be >= 1, --size-mb > 0")

    env = dict(os.environ)
    env["REGISTRY_AUTH_FILE"] = os.path.join(args.work, "auth.json")  # no host credentials
    with open(env["REGISTRY_AUTH_FILE"], "w") as f:
        f.write('{"auths":{}}\n')

    skopeo = shutil.which("skopeo")
    if not skopeo:
        raise SystemExit("skopeo is not installed")
    tools = [Tool("skopeo",
                  lambda s, d: [skopeo, "--insecure-policy", "copy", "--src-tls-verify=false", s, d],
                  lambda s, d: [skopeo, "--insecure-policy", "copy", "--dest-tls-verify=false", s, d])]
    berth = Tool("berth-image", None, None)
    if args.berth and os.path.isfile(args.berth) and os.access(args.berth, os.X_OK):
        pull_extra = shlex.split(os.environ.get("BERTH_IMAGE_PULL_ARGS", "--src-tls-verify=false"))
        push_extra = shlex.split(os.environ.get("BERTH_IMAGE_PUSH_ARGS", "--dest-tls-verify=false"))
        berth.pull_cmd = lambda s, d: [args.berth, "copy", *pull_extra, s, d]
        berth.push_cmd = lambda s, d: [args.berth, "copy", *push_extra, s, d]
        tools.append(berth)
    else:
        berth.error["pull"] = berth.error["push"] = f"no executable at {args.berth}"
        log(f"berth-image: not available (no executable at {args.berth})")

    src_layout = os.path.join(args.work, "src")
    log(f"building a {args.layers}-layer image of {args.size_mb:g} MB random data")
    t0 = time.perf_counter()
    manifest_digest, layers = build_image(src_layout, int(args.size_mb * 1e6), args.layers)
    size = sum(l["size"] for l in layers)
    log(f"built in {time.perf_counter() - t0:.1f} s: {size / 1e6:.1f} MB compressed, {manifest_digest}")

    reg = Registry(args.work, args.pidfile)
    try:
        log(f"registry on {reg.host}; pushing the image with skopeo (setup)")
        run_measured([skopeo, "--insecure-policy", "copy", "--dest-tls-verify=false",
                      f"oci:{src_layout}:latest", f"docker://{reg.host}/bench:latest"],
                     env, os.path.join(args.work, "stderr.log"))
        reg.check_image("bench", layers)
        log(f"pull: {args.runs} runs (+1 warm-up) per tool")
        bench_pull(tools, args, reg, layers, env)
    finally:
        reg.stop()
    if not args.no_push:
        log(f"push: {args.runs} runs (+1 warm-up) per tool, a fresh registry each")
        bench_push(tools, args, src_layout, layers, env)

    metrics = ["pull wall", "pull peak RSS"] + ([] if args.no_push else ["push wall", "push peak RSS"])
    everyone = tools if berth in tools else tools + [berth]
    med = {t.name: {m: median(t.results.get(m, [])) for m in metrics} for t in everyone}
    print(f"\nimage: {args.layers} layers, {size / 1e6:.1f} MB compressed; median of {args.runs} runs\n")
    w = max(len(m) for m in metrics) + 2
    print(f"{'':<{w}}{'skopeo':>14}{'berth-image':>16}{'berth/skopeo':>15}")
    for m in metrics:
        s, b = med["skopeo"][m], med["berth-image"][m]
        phase = m.split()[0]
        bcell = fmt(m, b) if b is not None else "not available"
        if b is None and phase not in berth.error:
            bcell = "n/a"
        ratio = f"{b / s:.2f}x" if (b is not None and s) else "-"
        print(f"{m:<{w}}{fmt(m, s):>14}{bcell:>16}{ratio:>15}")
    for t in everyone:
        for phase, msg in t.error.items():
            print(f"{t.name} {phase}: not available ({msg})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": args.runs, "compressed_bytes": size, "layers": args.layers,
                       "median": med, "errors": {t.name: t.error for t in everyone}}, f, indent=2)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        raise SystemExit(f"error: {e}")
