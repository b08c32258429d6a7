#!/usr/bin/env python3
"""Unpack benchmark for bench/unpack.sh: berth-image unpack vs umoci unpack.

Builds an OCI layout (tag latest) holding a 5-layer image: per layer, random files
(incompressible), text files (compressible, about 10:1) and a few hundred small files, gzip
level 6. Then, for each run, in this order:

  umoci        umoci unpack --image DIR:latest BUNDLE
  berth-cold   berth-image --store FRESH unpack oci:DIR:latest BUNDLE   (extracts every layer)
  berth-warm   berth-image --store SAME  unpack oci:DIR:latest BUNDLE2  (layer cache hit)
  berth-copy   berth-image --store SAME  unpack --no-overlay oci:DIR:latest BUNDLE3

Wall time is time.perf_counter() around the child; `sync` runs before umoci, berth-cold and
berth-copy, so no tool pays for another's dirty pages. Each bundle is checked (the rootfs holds
every layer's marker file with the right size). Nothing is removed until every run is done;
then berth's bundles are released (`berth-image release`), and the run directories (umoci's
bundles, the stores) removed.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import time

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_SHARES = [0.40, 0.25, 0.15, 0.10, 0.10]
RANDOM_SHARE = 0.42      # of the unpacked bytes; the rest is compressible text
SMALL_FILES = 400        # per layer, 1-8 KiB of text each
WORDS = ("the of and to in is was that for on with as by at from this have not are but "
         "container layer image overlay rootfs bundle runtime kernel mount cache digest "
         "manifest config process namespace cgroup seccomp capability device socket").split()


class BenchError(Exception):
    pass


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


def text_block(size, rng):
    """Text of lines drawn from a pool of a thousand (gzip: about 10:1)."""
    pool = [" ".join(rng.choices(WORDS, k=10)) + f" {rng.randrange(1000)}\n" for _ in range(1000)]
    out, n = [], 0
    while n < size:
        line = rng.choice(pool)
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:size]


def write_blob(root, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(os.path.join(root, "blobs", "sha256", digest[7:]), "wb") as f:
        f.write(data)
    return {"digest": digest, "size": len(data)}


def add(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 1700000000
    tar.addfile(info, io.BytesIO(data))


def build_image(root, total_bytes):
    os.makedirs(os.path.join(root, "blobs", "sha256"))
    with open(os.path.join(root, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    rng = random.Random(1)
    text = text_block(8 << 20, rng)
    descs, diff_ids, markers = [], [], []
    for i, share in enumerate(LAYER_SHARES):
        size = int(total_bytes * share)
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for d in (f"layer{i}", f"layer{i}/random", f"layer{i}/text", f"layer{i}/small"):
                info = tarfile.TarInfo(d)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1700000000
                tar.addfile(info)
            left = int(size * RANDOM_SHARE)
            k = 0
            while left > 0:
                n = min(left, 8 << 20)
                add(tar, f"layer{i}/random/r{k}.bin", os.urandom(n))
                left -= n
                k += 1
            left = size - int(size * RANDOM_SHARE) - SMALL_FILES * 4096
            k = 0
            while left > 0:
                n = min(left, 1 << 20)
                off = rng.randrange(len(text) - n)
                add(tar, f"layer{i}/text/t{k}.txt", text[off:off + n])
                left -= n
                k += 1
            for k in range(SMALL_FILES):
                n = rng.randrange(1024, 8192)
                off = rng.randrange(len(text) - n)
                add(tar, f"layer{i}/small/s{k}.conf", text[off:off + n])
            marker = f"layer {i}\n".encode() * 100
            add(tar, f"layer{i}/marker", marker)
            markers.append((f"layer{i}/marker", len(marker)))
        tar_bytes = raw.getvalue()
        diff_ids.append("sha256:" + hashlib.sha256(tar_bytes).hexdigest())
        gz = gzip.compress(tar_bytes, compresslevel=6, mtime=0)
        descs.append(dict(mediaType=MT_LAYER, **write_blob(root, gz)))
        log(f"layer {i}: {len(tar_bytes) / 1e6:.1f} MB unpacked, {len(gz) / 1e6:.1f} MB gzip")
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
    config = {"architecture": arch, "os": "linux", "config": {"Cmd": ["/bin/true"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cdesc = write_blob(root, json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": MT_MANIFEST,
                "config": dict(mediaType=MT_CONFIG, **cdesc), "layers": descs}
    mdesc = write_blob(root, json.dumps(manifest).encode())
    index = {"schemaVersion": 2, "manifests": [dict(
        mediaType=MT_MANIFEST, annotations={"org.opencontainers.image.ref.name": "latest"},
        **mdesc)]}
    with open(os.path.join(root, "index.json"), "w") as f:
        json.dump(index, f)
    return sum(d["size"] for d in descs), markers


def timed(cmd, errlog):
    with open(errlog, "ab") as err:
        t0 = time.perf_counter()
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err)
        wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise BenchError(f"{' '.join(cmd)} failed ({p.returncode}); see {errlog}")
    return wall


def check(bundle, markers):
    for path, size in markers:
        p = os.path.join(bundle, "rootfs", path)
        if os.path.getsize(p) != size:
            raise BenchError(f"{p}: wrong size")
    if not os.path.isfile(os.path.join(bundle, "config.json")):
        raise BenchError(f"{bundle}: no config.json")


def remove_tree(path, work):
    """Remove a bundle or store of this run (never anything outside WORK)."""
    real = os.path.realpath(path)
    if not real.startswith(os.path.realpath(work) + os.sep):
        raise BenchError(f"refusing to remove {real}")
    if os.path.lexists(real):
        subprocess.run(["rm", "-rf", "--one-file-system", "--", real], check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--berth", required=True)
    ap.add_argument("--json")
    args = ap.parse_args()
    work = args.work
    layout = os.path.join(work, "layout")
    errlog = os.path.join(work, "stderr.log")
    t0 = time.perf_counter()
    compressed, markers = build_image(layout, args.size_mb * 1_000_000)
    log(f"image built in {time.perf_counter() - t0:.1f} s: {compressed / 1e6:.1f} MB compressed")
    image = f"oci:{layout}:latest"
    berth = args.berth
    times = {"umoci": [], "berth-cold": [], "berth-warm": [], "berth-copy": []}
    made = []   # (store, bundle) of berth bundles, released at the end
    # Nothing is deleted until every run is done: ext4 without a journal skips inodes
    # deleted in the last minutes when it allocates new ones, which slows down whichever
    # tool runs after a big removal.
    for r in range(args.runs):
        run = os.path.join(work, f"run{r}")
        os.makedirs(run)
        store = os.path.join(run, "store")
        b = {k: os.path.join(run, k) for k in times}
        subprocess.run(["sync"], check=True)
        times["umoci"].append(timed(["umoci", "unpack", "--image", f"{layout}:latest", b["umoci"]], errlog))
        subprocess.run(["sync"], check=True)
        times["berth-cold"].append(timed([berth, "--store", store, "unpack", image, b["berth-cold"]], errlog))
        made.append((store, b["berth-cold"]))
        times["berth-warm"].append(timed([berth, "--store", store, "unpack", image, b["berth-warm"]], errlog))
        made.append((store, b["berth-warm"]))
        subprocess.run(["sync"], check=True)
        times["berth-copy"].append(
            timed([berth, "--store", store, "unpack", "--no-overlay", image, b["berth-copy"]], errlog))
        made.append((store, b["berth-copy"]))
        for k in times:
            check(b[k], markers)
        log(f"run {r + 1}/{args.runs}: " + ", ".join(f"{k} {v[-1]:.3f} s" for k, v in times.items()))
    for store, bundle in made:
        timed([berth, "--store", store, "release", bundle], errlog)
    for r in range(args.runs):
        remove_tree(os.path.join(work, f"run{r}"), work)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\nunpack of a 5-layer image, {args.size_mb} MB unpacked, {compressed / 1e6:.0f} MB gzip; "
          f"median of {args.runs} runs")
    print(f"{'tool':<14}{'median':>12}{'min':>10}{'max':>10}{'umoci/tool':>13}")
    for k, v in times.items():
        print(f"{k:<14}{med[k]:>10.3f} s{min(v):>8.3f} s{max(v):>8.3f} s{med['umoci'] / med[k]:>12.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": args.runs, "size_mb": args.size_mb, "compressed_bytes": compressed,
                       "times": times, "medians": med}, f, indent=2)


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
