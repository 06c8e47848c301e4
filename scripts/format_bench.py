#!/usr/bin/env python3
"""Decode time per image format: inferd's decoder against Pillow's, on one
1600x1200 (1.9 Mpx) photo saved in each format and variant.

    /usr/bin/python3 scripts/format_bench.py [--build build] [--iterations 15] [--photo ../shared/data/dog.jpg]

inferd: build/preprocess_bench's image_decode_rgb median (whole decode to
RGB, one thread). Pillow: median of Image.open(BytesIO).convert('RGB'); for
HEIC/AVIF, which Pillow 9.4 cannot open, heif-convert to PNG + Pillow's
read (the reference path), timed as a process. Also prints max |dtensor|
(scripts/reference.py vs build/parity_tool) so the table holds both.
"""
import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import reference  # noqa: E402


def variants(photo, tmp):
    im = Image.open(photo).convert("RGB").resize((1600, 1200), Image.LANCZOS)
    im.info = {}  # no ICC profile: heif-convert could not write it back to PNG
    src = os.path.join(tmp, "src.png")
    im.save(src)
    out = []

    def pil(fmt, name, img=im, **kw):
        p = os.path.join(tmp, name)
        img.save(p, fmt, **kw)
        out.append((fmt, name, p))

    def tool(fmt, name, cmd):
        p = os.path.join(tmp, name)
        subprocess.run(cmd + [p], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append((fmt, name, p))

    pil("JPEG", "jpeg_q90.jpg", quality=90)
    pil("PNG", "png.png")
    pil("WEBP", "webp_lossy_q80.webp", quality=80)
    pil("WEBP", "webp_lossless.webp", lossless=True)
    pil("TIFF", "tiff_raw.tif")
    pil("TIFF", "tiff_lzw.tif", compression="tiff_lzw")
    pil("TIFF", "tiff_deflate.tif", compression="tiff_adobe_deflate")
    pil("TIFF", "tiff_jpeg.tif", compression="jpeg", quality=90)
    tool("TIFF", "tiff_rgb16_lzw.tif", ["convert", src, "-depth", "16", "-compress", "lzw"])
    tool("HEIF", "heic_q70.heic", ["heif-enc", "-q", "70", src, "-o"])
    tool("HEIF", "avif_q60.avif", ["heif-enc", "-A", "-q", "60", src, "-o"])
    return out


def pillow_ms(path, fmt, iterations):
    times = []
    data = open(path, "rb").read()
    for _ in range(iterations + 2):
        t0 = time.perf_counter()
        if fmt == "HEIF":
            with tempfile.TemporaryDirectory() as tmp:
                png = os.path.join(tmp, "p.png")
                subprocess.run(["heif-convert", path, png], check=True, stdout=subprocess.DEVNULL)
                Image.open(png).convert("RGB")
        else:
            Image.open(io.BytesIO(data)).convert("RGB")
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times[2:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--iterations", type=int, default=15)
    ap.add_argument("--photo", default=os.path.join(ROOT, "..", "shared", "data", "dog.jpg"))
    args = ap.parse_args()
    bench = os.path.join(args.build, "preprocess_bench")
    tool = os.path.join(args.build, "parity_tool")
    with tempfile.TemporaryDirectory() as tmp:
        files = variants(args.photo, tmp)
        cdir = os.path.join(tmp, "c")
        os.makedirs(cdir)
        subprocess.run([tool, "--no-model", "--out-dir", cdir] + [p for _, _, p in files], check=True,
                       stdout=subprocess.DEVNULL)
        print("| format | variant | bytes | max abs dtensor | inferd decode ms | Pillow ms | ratio |")
        print("|---|---|---|---|---|---|---|")
        for fmt, name, path in files:
            ref = reference.preprocess(path).numpy()
            c = np.fromfile(os.path.join(cdir, name + ".tensor.f32"), dtype="<f4").reshape(ref.shape)
            delta = float(np.abs(c.astype(np.float64) - ref.astype(np.float64)).max())
            r = subprocess.run([bench, "--image", path, "--iterations", str(args.iterations), "--warmup", "2",
                                "--json"], check=True, stdout=subprocess.PIPE, universal_newlines=True)
            c_ms = json.loads(r.stdout)["decode_median_ms"]
            p_ms = pillow_ms(path, fmt, args.iterations)
            print("| %s | %s | %d | %g | %.1f | %.1f%s | %.2f |" % (
                fmt, name, os.path.getsize(path), delta, c_ms, p_ms, " (heif-convert+PNG)" if fmt == "HEIF" else "",
                c_ms / p_ms))


if __name__ == "__main__":
    main()
