#!/usr/bin/env python3
"""Python reference pipeline for inferd (identical to the original Flask server).

    /usr/bin/python3 scripts/reference.py --model M --out-dir D [--no-model] IMG...

For every image this does exactly what the Flask server did:

    Image.open(path).convert('RGB')
    Resize(255) -> CenterCrop(224) -> ToTensor() -> Normalize(mean, std)
    model = torch.jit.load(M); model.eval()
    with torch.no_grad(): logits = model(t[None])

and writes, in the same format as the C tool ``build/parity_tool``:

    D/<basename>.tensor.f32   raw little-endian float32, shape [3,224,224], C order
    D/<basename>.logits.f32   raw little-endian float32, 1000 values (not with --no-model)

HEIC and AVIF, which Pillow 9.4 cannot open, are first decoded by libheif's
own ``heif-convert`` to PNG (Debian libheif-examples); that PNG then goes
through the same steps: libheif's decoder is the reference for those formats.

If PIL cannot open or convert an image nothing is written for it and the line
``ERROR <basename> <message>`` is printed on stdout; the remaining images are
still processed and the exit status stays 0 (a rejected image is a result,
not a failure of this tool).

Other outputs: ``--json`` prints one JSON object per image (class index,
top-5, and ids/names with ``--class-index``); ``--time`` reports the
single-image latency of load+preprocess+forward for the first image.

The functions (load_rgb, build_transform, preprocess, load_model, forward,
topk, ...) are imported by tests/parity_test.py.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

DEFAULT_RESIZE = 255
# ftyp major brands of the HEIF files libheif decodes (HEVC and AV1 stills).
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")
DEFAULT_CROP = 224
DEFAULT_MEAN = (0.485, 0.456, 0.406)
DEFAULT_STD = (0.229, 0.224, 0.225)
DEFAULT_THREADS = 2


INTERPOLATIONS = {"bilinear": InterpolationMode.BILINEAR, "bicubic": InterpolationMode.BICUBIC}


def build_transform(resize=DEFAULT_RESIZE, crop=DEFAULT_CROP, mean=DEFAULT_MEAN, std=DEFAULT_STD,
                    interpolation="bilinear"):
    """torchvision's Resize -> CenterCrop -> ToTensor -> Normalize on a PIL image.

    The defaults are the Flask server's (bilinear Resize(255) of the short
    side, CenterCrop(224)).  resize is an int (or [n]: the shorter side) or
    [h, w]; crop an int or [h, w]; interpolation "bilinear" or "bicubic".
    """
    return transforms.Compose([
        transforms.Resize(resize if isinstance(resize, int) else list(resize),
                          interpolation=INTERPOLATIONS[interpolation]),
        transforms.CenterCrop(crop if isinstance(crop, int) else list(crop)),
        transforms.ToTensor(),
        transforms.Normalize(list(mean), list(std)),
    ])


def is_heif(path):
    """True for an ISO-BMFF file with a HEIC/AVIF brand (what libheif opens)."""
    with open(path, "rb") as f:
        head = f.read(12)
    return len(head) == 12 and head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS


def heif_to_png(path, png_path):
    """libheif's own decoder (heif-convert, Debian libheif-examples) writes a PNG.

    Pillow 9.4 cannot open HEIC/AVIF, so for those formats this PNG *is* the
    reference decode; raises OSError when heif-convert refuses the file.
    """
    proc = subprocess.run(["heif-convert", path, png_path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True)
    # heif-convert 1.15 exits 0 even when libpng refuses to write (e.g. an
    # embedded ICC profile libpng calls incorrect): an empty file is a failure.
    if proc.returncode != 0 or not os.path.exists(png_path) or os.path.getsize(png_path) == 0:
        raise OSError("heif-convert: " + " ".join(proc.stdout.split())[-300:])


def preprocess_from_meta(meta):
    """The keyword arguments of build_transform that a model file's metadata states."""
    pre = (meta or {}).get("preprocess") or {}
    out = {}
    for key in ("resize", "crop"):
        if key in pre:
            v = pre[key]
            out[key] = v if isinstance(v, int) else (v[0] if len(v) == 1 and key == "resize" else list(v))
    for key in ("mean", "std"):
        if key in pre:
            out[key] = tuple(pre[key])
    if "interpolation" in pre:
        out["interpolation"] = pre["interpolation"]
    return out


def crop_hw(crop):
    """(h, w) of a CenterCrop size."""
    return (crop, crop) if isinstance(crop, int) else (crop[0], crop[-1])


def load_rgb(path):
    """Decode an image file exactly like the server: Image.open(...).convert('RGB').

    Raises whatever PIL raises for unreadable files.  convert() forces the
    full decode, so truncated files fail here rather than later.  HEIC/AVIF
    go through heif-convert to PNG first (see heif_to_png).
    """
    if is_heif(path):
        with tempfile.TemporaryDirectory(prefix="inferd-heif-") as tmp:
            png = os.path.join(tmp, "primary.png")
            heif_to_png(path, png)
            return load_rgb(png)
    with warnings.catch_warnings():
        # PIL warns that palette images with byte-valued tRNS "should be
        # converted to RGBA"; the server converts to RGB regardless, so the
        # warning is just noise on stderr.
        warnings.simplefilter("ignore", UserWarning)
        with Image.open(path) as im:
            return im.convert("RGB")


def preprocess(path, transform=None):
    """File -> normalised float32 tensor [3, crop, crop] (contiguous)."""
    transform = transform or build_transform()
    return transform(load_rgb(path)).contiguous()


def archive_meta(path):
    """inferd_meta.json read straight from the TorchScript zip (no model load), or None."""
    import zipfile
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if name.endswith("/extra/inferd_meta.json"):
                    return json.loads(z.read(name) or b"null")
    except (OSError, zipfile.BadZipFile, ValueError):
        pass
    return None


def select_quantized_engine(path):
    """An int8 file's packed weights are unpacked for the current quantized
    engine at load time, so set the one its metadata names first."""
    engine = (archive_meta(path) or {}).get("quantized_engine")
    if engine:
        if engine not in torch.backends.quantized.supported_engines:
            raise RuntimeError("%s needs the %s quantized engine; this torch has %s"
                               % (path, engine, ", ".join(torch.backends.quantized.supported_engines)))
        torch.backends.quantized.engine = engine
    return engine


def load_model(path, threads=DEFAULT_THREADS):
    """torch.jit.load + eval(), with the intra-op thread count fixed for reproducible timing."""
    torch.set_num_threads(threads)
    select_quantized_engine(path)
    model = torch.jit.load(path, map_location="cpu")
    model.eval()
    return model


def read_model_meta(path):
    """Return the inferd_meta.json extra file written by export_model.py, or None."""
    extra = {"inferd_meta.json": ""}
    torch.jit.load(path, map_location="cpu", _extra_files=extra)
    return json.loads(extra["inferd_meta.json"]) if extra["inferd_meta.json"] else None


def forward(model, tensor):
    """Logits for one preprocessed image as a 1-D float32 tensor."""
    with torch.no_grad():
        return model(tensor[None]).reshape(-1).float()


def topk(logits, k=5):
    """Indices of the k largest logits, ties broken by the lower class index.

    numpy's stable argsort is used instead of torch.topk, whose order for
    equal values is unspecified, so the result is reproducible.
    """
    values = np.asarray(logits, dtype=np.float32)
    return [int(i) for i in np.argsort(-values, kind="stable")[:k]]


def write_f32(path, tensor):
    """Raw little-endian float32 in C order (what the C tool writes)."""
    arr = np.ascontiguousarray(np.asarray(tensor, dtype="<f4"))
    with open(path, "wb") as f:
        f.write(arr.tobytes(order="C"))


def load_class_index(path):
    """imagenet_class_index.json -> {int index: (wnid, name)}."""
    with open(path) as f:
        raw = json.load(f)
    return {int(k): (v[0], v[1]) for k, v in raw.items()}


def error_message(exc):
    """One-line message for the ERROR line (PIL messages may contain newlines)."""
    msg = "%s: %s" % (type(exc).__name__, exc)
    return " ".join(msg.split())


def process(paths, out_dir, model=None, transform=None, out=sys.stdout):
    """Run the pipeline over paths, write the .f32 files, return per-image results.

    Each result: {"image": basename, "path", "ok": bool, "error": str|None,
    "tensor": np.ndarray|None, "logits": np.ndarray|None}.
    """
    transform = transform or build_transform()
    os.makedirs(out_dir, exist_ok=True)
    results = []
    for p in paths:
        name = os.path.basename(p)
        res = {"image": name, "path": p, "ok": False, "error": None, "tensor": None, "logits": None}
        try:
            t = preprocess(p, transform)
        except Exception as e:  # PIL raises OSError, ValueError, SyntaxError, ... for bad files
            res["error"] = error_message(e)
            if out is not None:
                print("ERROR %s %s" % (name, res["error"]), file=out, flush=True)
            results.append(res)
            continue
        res["ok"] = True
        res["tensor"] = t.numpy()
        write_f32(os.path.join(out_dir, name + ".tensor.f32"), res["tensor"])
        if model is not None:
            res["logits"] = forward(model, t).numpy()
            write_f32(os.path.join(out_dir, name + ".logits.f32"), res["logits"])
        results.append(res)
    return results


def json_record(res, class_index=None, k=5):
    """The --json line for one image (mirrors the Flask server's class_id/class_name)."""
    logits = res["logits"]
    top = topk(logits, k)
    rec = {"image": res["image"], "class_index": top[0], "top5": []}
    for i in top:
        item = {"index": i, "logit": round(float(logits[i]), 6)}
        if class_index is not None:
            item["id"], item["name"] = class_index[i]
        rec["top5"].append(item)
    if class_index is not None:
        rec["class_id"], rec["class_name"] = class_index[top[0]]
    return rec


def time_single(path, model, transform, runs=20, warmup=3):
    """Median/min latency of load+preprocess(+forward) for one image, in ms.

    Warm-up runs let the TorchScript profiling executor specialise the graph
    (the first 1-2 calls are much slower) and fill the page cache.
    """
    def once():
        t0 = time.perf_counter()
        t = preprocess(path, transform)
        t1 = time.perf_counter()
        if model is not None:
            forward(model, t)
        t2 = time.perf_counter()
        return (t2 - t0) * 1e3, (t1 - t0) * 1e3, (t2 - t1) * 1e3

    for _ in range(warmup):
        once()
    samples = [once() for _ in range(runs)]
    total, pre, fwd = zip(*samples)
    return {"median_ms": statistics.median(total), "min_ms": min(total),
            "preprocess_median_ms": statistics.median(pre),
            "forward_median_ms": statistics.median(fwd), "runs": runs}


def _floats(text):
    return tuple(float(x) for x in text.split(","))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Run with /usr/bin/python3 (the interpreter that has torch).",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("images", nargs="+", metavar="IMG", help="image files")
    ap.add_argument("--model", help="TorchScript model file (required unless --no-model)")
    ap.add_argument("--out-dir", help="where to write <basename>.tensor.f32 / .logits.f32 "
                                      "(required unless only --time is wanted)")
    ap.add_argument("--no-model", action="store_true", help="only preprocess; write tensors only")
    ap.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                    help="torch intra-op threads (default %(default)s)")
    ap.add_argument("--resize", type=int, default=DEFAULT_RESIZE,
                    help="Resize() size of the short side (default %(default)s)")
    ap.add_argument("--crop", type=int, default=DEFAULT_CROP,
                    help="CenterCrop() size (default %(default)s)")
    ap.add_argument("--mean", type=_floats, default=DEFAULT_MEAN,
                    help="Normalize mean, comma separated (default 0.485,0.456,0.406)")
    ap.add_argument("--std", type=_floats, default=DEFAULT_STD,
                    help="Normalize std, comma separated (default 0.229,0.224,0.225)")
    ap.add_argument("--json", action="store_true",
                    help='print one JSON line per image: {"image", "class_index", "top5", ...}')
    ap.add_argument("--class-index", metavar="FILE",
                    help="imagenet_class_index.json, to add class ids/names to --json output")
    ap.add_argument("--time", action="store_true",
                    help="report single-image latency of load+preprocess+forward for the first image")
    ap.add_argument("--time-runs", type=int, default=20, metavar="N",
                    help="timed runs for --time, after 3 warm-up runs (default %(default)s)")
    args = ap.parse_args(argv)

    if not args.no_model and not args.model:
        ap.error("--model is required unless --no-model is given")
    if args.json and args.no_model:
        ap.error("--json needs the model (drop --no-model)")
    if args.out_dir is None and not args.time:
        ap.error("--out-dir is required")
    if len(args.mean) != 3 or len(args.std) != 3:
        ap.error("--mean and --std take three comma-separated values")

    transform = build_transform(args.resize, args.crop, args.mean, args.std)
    torch.set_num_threads(args.threads)
    model = None if args.no_model else load_model(args.model, args.threads)
    class_index = load_class_index(args.class_index) if args.class_index else None

    if args.out_dir is not None:
        # One image at a time so ERROR and JSON lines come out in input order.
        for p in args.images:
            res = process([p], args.out_dir, model, transform)[0]
            if args.json and res["ok"]:
                print(json.dumps(json_record(res, class_index)), flush=True)

    if args.time:
        first = args.images[0]
        try:
            load_rgb(first)
        except Exception as e:
            print("ERROR %s %s" % (os.path.basename(first), error_message(e)))
            return 1
        r = time_single(first, model, transform, runs=args.time_runs)
        what = "load+preprocess" if model is None else "load+preprocess+forward"
        print("TIME %s %s median_ms=%.2f min_ms=%.2f preprocess_median_ms=%.2f "
              "forward_median_ms=%.2f runs=%d threads=%d" % (
                  os.path.basename(first), what, r["median_ms"], r["min_ms"],
                  r["preprocess_median_ms"], r["forward_median_ms"], r["runs"], args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
