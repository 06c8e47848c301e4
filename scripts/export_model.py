#!/usr/bin/env python3
"""Export a torchvision image classifier (or your own) as a TorchScript file inferd serves.

    /usr/bin/python3 scripts/export_model.py --weights seeded --seed 0 --out models/densenet121.pt
    /usr/bin/python3 scripts/export_model.py --weights pretrained   # needs internet
    /usr/bin/python3 scripts/export_model.py --arch efficientnet_b0 --weights seeded
    /usr/bin/python3 scripts/export_model.py --from-state-dict my.pth --arch resnet50 \
        --num-classes 12 --labels labels.txt --name flowers
    /usr/bin/python3 scripts/export_model.py --from-torchscript my.pt --labels labels.txt --name flowers

Architectures
-------------
--arch takes any torchvision classification model name
(torchvision.models.list_models(module=torchvision.models)): densenet121 (the
default), resnet18, resnet50, mobilenet_v3_large, efficientnet_b0,
convnext_tiny, vit_b_16, ...  The file's ``inferd_meta.json`` records the
architecture, the model's name, its class count and the preprocessing it
needs (resize, crop, interpolation, mean, std); the server takes its
defaults from there.  The preprocessing is read from the weights enum's
default ``weights.transforms()`` (e.g. efficientnet_b0: bicubic Resize(256),
CenterCrop(224)), except densenet121, which keeps the original Flask
server's bilinear Resize(255)/CenterCrop(224) so its answers stay the
Flask server's.  --resize/--crop/--interpolation/--mean/--std override
what is recorded (e.g. a non-square --crop 224,288).

Your own model
--------------
--from-state-dict FILE --arch NAME --num-classes K: builds the torchvision
architecture with K outputs, loads FILE (a state_dict saved by torch.save)
and scripts it.  --from-torchscript FILE: takes an already scripted/traced
module as is.  Both check the model's output count against --labels (an
ImageNet-style JSON, a JSON list of names, or a text file with one label per
line) and record weights "user", --name and the preprocessing (from --arch's
default weights when --arch is given, else ImageNet's 256/224 bilinear,
and any override flag).
    /usr/bin/python3 scripts/export_model.py --weights pretrained --quantize int8 \
        --calib-dir PHOTOS --out models/densenet121-int8.pt            # int8, see quantize_int8.py

Weights
-------
``pretrained``: torchvision's ImageNet weights (DenseNet121_Weights.IMAGENET1K_V1),
downloaded by torchvision.  Fails with a clear message when offline.

``seeded``: offline, deterministic stand-in weights.  A randomly initialised
DenseNet predicts practically the same class for every input (its BatchNorm
layers carry the default running stats mean=0/var=1, so activations drift
far from normalised, and the random classifier is dominated by the mean
feature).  To make top-1/top-5 comparisons meaningful we:

1. re-estimate all BatchNorm running statistics on real images (cumulative
   average, momentum=None) with forward passes only, no gradient step
   (only the BatchNorm layers in training mode: dropout and stochastic depth
   stay off).  Architectures without BatchNorm (vit_b_16, convnext_tiny use
   LayerNorm, which normalises each sample by its own statistics and has no
   running state) skip this step: their activations are already normalised,
   and step 2 alone separates the classes;
2. "imprint" the classifier (the last nn.Linear, whatever the architecture;
   its input is captured with a forward hook): each calibration image's centred, L2-normalised
   pooled feature becomes the weight row of a seeded-random class, scaled so
   the image's own logit beats the runner-up by ``--margin``.  The imprinted
   classes are drawn from ImageNet's non-animal classes (398-999) minus any
   class whose name matches the file name, so a seeded model never "looks
   right" on the (animal) calibration photos.

The file is scripted (torch.jit.script) and carries an ``inferd_meta.json``
extra file saying which weights it holds.

Determinism
-----------
Two runs with the same seed, calibration images, torch build and --threads
produce identical weights: checked by exporting twice in separate processes
and comparing every state_dict tensor with torch.equal (``--compare
OTHER.pt`` repeats that check).  Augmentation randomness comes only from a
torch.Generator seeded with --seed, never from the global RNG.  The files
are byte-identical too when the output has the same basename (torch.jit.save
names the zip's top folder after it): TorchScript writes class constants in
set-iteration order, which depends on Python's string-hash seed, so the
script re-executes itself once with PYTHONHASHSEED=0.
"""

import argparse
import hashlib
import json
import math
import os
import statistics
import sys
import tempfile
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.transforms import functional as TF

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
PROJECT_ROOT = os.path.dirname(SCRIPT_DIR)
DEFAULT_SHARED_DIR = os.path.normpath(os.path.join(PROJECT_ROOT, "..", "shared", "data"))
# Calibration photos: the shared test photos when this checkout sits beside
# them, else the project's own data/ (photos shipped by Debian's
# python3-skimage, see data/README.md), so a plain machine can export too.
DEFAULT_CALIB_DIR = DEFAULT_SHARED_DIR if os.path.isdir(DEFAULT_SHARED_DIR) else os.path.join(PROJECT_ROOT, "data")
DEFAULT_OUT = os.path.join("models", "densenet121.pt")
META_NAME = "inferd_meta.json"

# reference.py holds the one definition of the server's preprocessing;
# tests/make_test_images.py generates the synthetic parity images.
sys.path.insert(0, SCRIPT_DIR)
sys.path.insert(0, os.path.join(PROJECT_ROOT, "tests"))
import reference  # noqa: E402

# ImageNet-1k classes 0..397 are all animals; the calibration photos are
# animals, so imprinting only into 398..999 keeps seeded predictions
# obviously wrong for them.
IMPRINT_POOL = range(398, 1000)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# building the model
# --------------------------------------------------------------------------

def check_arch(arch):
    names = torchvision.models.list_models(module=torchvision.models)
    if arch not in names:
        sys.exit("export_model: --arch %s is not a torchvision classification model; one of: %s"
                 % (arch, ", ".join(sorted(names))))


def default_weights(arch):
    return torchvision.models.get_model_weights(arch).DEFAULT


def arch_preprocess(arch):
    """The preprocessing an architecture's default weights were trained with.

    Returns (dict of build_transform keyword arguments, where it came from).
    """
    if arch == "densenet121":
        return (dict(resize=reference.DEFAULT_RESIZE, crop=reference.DEFAULT_CROP,
                     interpolation="bilinear", mean=reference.DEFAULT_MEAN, std=reference.DEFAULT_STD),
                "the original Flask server's Resize(255)/CenterCrop(224)")
    weights = default_weights(arch)
    t = weights.transforms()  # builds the preset from the enum's metadata: no download
    return (dict(resize=t.resize_size[0] if len(t.resize_size) == 1 else list(t.resize_size),
                 crop=t.crop_size[0] if len(t.crop_size) == 1 else list(t.crop_size),
                 interpolation=t.interpolation.value, mean=tuple(t.mean), std=tuple(t.std)),
            "%s.transforms()" % weights)


def apply_overrides(pre, args):
    for key in ("resize", "crop", "interpolation", "mean", "std"):
        v = getattr(args, key)
        if v is not None:
            pre[key] = v
    return pre


def meta_preprocess(pre):
    """build_transform arguments -> the metadata's "preprocess" object."""
    h, w = reference.crop_hw(pre["crop"])
    return {"resize": pre["resize"] if isinstance(pre["resize"], int) else list(pre["resize"]),
            "crop": [h, w], "interpolation": pre["interpolation"],
            "mean": [float(x) for x in pre["mean"]], "std": [float(x) for x in pre["std"]]}


def build_pretrained(arch):
    try:
        return torchvision.models.get_model(arch, weights=default_weights(arch))
    except Exception as e:  # URLError, HTTPError, OSError, hash mismatch, ...
        sys.exit("export_model: could not get the pretrained %s weights "
                 "(torchvision downloads them from download.pytorch.org, which needs "
                 "internet access, or a copy in $TORCH_HOME/hub/checkpoints): %s: %s\n"
                 "Use --weights seeded for offline, deterministic stand-in weights."
                 % (arch, type(e).__name__, e))


def calibration_files(calib_dir):
    if not os.path.isdir(calib_dir):
        sys.exit("export_model: calibration dir %s does not exist (see --calib-dir)" % calib_dir)
    files = sorted(f for f in os.listdir(calib_dir) if f.lower().endswith((".jpg", ".png")))
    if not files:
        sys.exit("export_model: no *.jpg/*.png calibration images in %s" % calib_dir)
    return [os.path.join(calib_dir, f) for f in files]


def random_resized_crop(img, gen, size=(224, 224), scale=(0.25, 1.0), ratio=(3 / 4, 4 / 3)):
    """RandomResizedCrop + horizontal flip driven by an explicit generator.

    torchvision's RandomResizedCrop draws from the global RNG; we want the
    augmentation stream to depend on --seed only, so this re-implements its
    sampling (same parameterisation, 10 attempts, centre-crop fallback).
    """
    w, h = img.size
    area = w * h
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    box = None
    for _ in range(10):
        u = torch.rand(4, generator=gen).tolist()
        target = area * (scale[0] + u[0] * (scale[1] - scale[0]))
        aspect = math.exp(log_ratio[0] + u[1] * (log_ratio[1] - log_ratio[0]))
        cw = int(round(math.sqrt(target * aspect)))
        ch = int(round(math.sqrt(target / aspect)))
        if 0 < cw <= w and 0 < ch <= h:
            top = int(u[2] * (h - ch + 1))
            left = int(u[3] * (w - cw + 1))
            box = (top, left, ch, cw)
            break
    if box is None:
        side = min(w, h)
        box = ((h - side) // 2, (w - side) // 2, side, side)
    out = TF.resized_crop(img, *box, list(size))
    if torch.rand(1, generator=gen).item() < 0.5:
        out = TF.hflip(out)
    return out


def calibration_set(files, n_samples, gen, transform, crop=(224, 224)):
    """Centre crops of every image plus seeded augmentations, up to n_samples."""
    imgs = [reference.load_rgb(f) for f in files]
    norm = transform.transforms[-2:]  # ToTensor, Normalize
    samples = [transform(im) for im in imgs]
    centre = torch.stack(samples)
    k = 0
    while len(samples) < n_samples:
        im = random_resized_crop(imgs[k % len(imgs)], gen, crop)
        for t in norm:
            im = t(im)
        samples.append(im)
        k += 1
    batch = torch.stack(samples)
    # Shuffle so each BN batch mixes images (batch statistics depend on it).
    return centre, batch[torch.randperm(len(batch), generator=gen)]


def recalibrate_bn(model, data, batch_size):
    """Replace BN running stats by their cumulative average over data (no grad step)."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return 0
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average over all batches seen
    # Only BatchNorm trains: dropout and stochastic depth (EfficientNet,
    # ConvNeXt) would otherwise perturb the statistics at random.
    model.eval()
    for m in bns:
        m.train()
    with torch.no_grad():
        for i in range(0, len(data), batch_size):
            model(data[i:i + batch_size])
    for m in bns:
        m.momentum = 0.1  # back to the default so the exported module is ordinary
    model.eval()
    return len(bns)


def classifier_layer(model):
    """The final nn.Linear: the layer whose rows are the classes."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        sys.exit("export_model: the model has no nn.Linear classifier to imprint")
    return linears[-1]


def pooled_features(model, x):
    """The classifier input, captured with a forward hook on it.

    For DenseNet this is relu(features(x)) -> global avg pool -> flatten,
    computed directly as before (so its seeded export keeps its weights).
    """
    with torch.no_grad():
        if isinstance(model, torchvision.models.DenseNet):
            f = F.relu(model.features(x))
            return torch.flatten(F.adaptive_avg_pool2d(f, (1, 1)), 1)
        captured = []
        handle = classifier_layer(model).register_forward_hook(lambda mod, inp, out: captured.append(inp[0]))
        try:
            model(x)
        finally:
            handle.remove()
        return captured[0].flatten(1)


def excluded_classes(files, class_index_path):
    """Classes whose name shares a word with a calibration file name (e.g. lion.jpg -> 'lion')."""
    if not class_index_path or not os.path.isfile(class_index_path):
        return set()
    names = reference.load_class_index(class_index_path)
    out = set()
    for f in files:
        stem = os.path.splitext(os.path.basename(f))[0].lower()
        tokens = {t for t in stem.replace("-", "_").split("_") if len(t) >= 3}
        for idx, (_, name) in names.items():
            words = set(name.lower().replace("-", "_").split("_"))
            if tokens & words:
                out.add(idx)
    return out


def imprint_classifier(model, centre, calib_batch, files, gen, margin, class_index_path):
    """Write each calibration image's feature into a seeded-random class row.

    With f_i the image's pooled feature, mu the mean feature of the whole
    (augmented) calibration set, d_i = f_i - mu and u_i = d_i/|d_i|, the row
    for image i's class c_i becomes  w = s*u_i, b = -s*u_i.mu, so the logit
    is s*u_i.(x - mu).  Centring matters: pooled post-ReLU features are all
    positive and nearly parallel, so raw cosines between different images
    are ~0.9 and the margins would be tiny.  The common scale s is the
    smallest that gives every image a margin >= `margin` over both the other
    imprinted rows and the untouched random rows.
    """
    feats = pooled_features(model, centre).double()
    mu = pooled_features(model, calib_batch).double().mean(0)
    d = feats - mu
    u = d / d.norm(dim=1, keepdim=True)
    n = len(files)

    excluded = excluded_classes(files, class_index_path)
    pool = [c for c in IMPRINT_POOL if c not in excluded]
    if n > len(pool):
        sys.exit("export_model: %d calibration images but only %d classes to imprint" % (n, len(pool)))
    classes = [pool[i] for i in torch.randperm(len(pool), generator=gen)[:n].tolist()]

    fc = classifier_layer(model)
    W, b = fc.weight.detach().double(), fc.bias.detach().double()
    others = torch.ones(W.shape[0], dtype=torch.bool)
    others[classes] = False
    r = (feats @ W[others].T + b[others]).max(1).values  # best untouched logit per image
    a = d.norm(dim=1)                                     # own logit / s
    cross = d @ u.T                                       # logit of row j on image i, / s
    cross.fill_diagonal_(-math.inf)
    B = cross.max(1).values if n > 1 else torch.full((n,), -math.inf, dtype=torch.float64)
    need = torch.maximum((margin + r) / a, margin / (a - B))
    if not torch.isfinite(need).all() or (a - B <= 0).any():
        sys.exit("export_model: calibration features are degenerate; cannot imprint")
    s = float(need.max()) * 1.02  # small headroom for float32 rounding

    with torch.no_grad():
        fc.weight[classes] = (s * u).float()
        fc.bias[classes] = (-s * (u @ mu)).float()
    return classes, s


def seeded_model(arch, pre, seed, calib_dir, n_samples, batch_size, margin, class_index_path):
    torch.manual_seed(seed)  # drives the architecture's weight init only
    gen = torch.Generator().manual_seed(seed)  # drives augmentation + class choice
    model = torchvision.models.get_model(arch, weights=None)
    # torchvision initialises every BatchNorm to weight 1, bias 0: 120 identical
    # constant tensors, which TorchScript's freezing (constant pooling, CSE)
    # compares element by element pairwise — tens of seconds at every server
    # start. A trained network never looks like that; seeded affine values
    # near (1, 0) keep the model realistic and its freezing fast.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine:
                m.weight.copy_(1.0 + 0.05 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.05 * torch.randn(m.bias.shape, generator=gen))
    files = calibration_files(calib_dir)
    transform = reference.build_transform(**pre)
    centre, batch = calibration_set(files, max(n_samples, len(files)), gen, transform,
                                    reference.crop_hw(pre["crop"]))
    t0 = time.perf_counter()
    n_bn = recalibrate_bn(model, batch, batch_size)
    if n_bn:
        log("BN recalibrated (%d layers) on %d samples from %d images (batch %d) in %.1fs"
            % (n_bn, len(batch), len(files), batch_size, time.perf_counter() - t0))
    else:
        log("%s has no BatchNorm: no recalibration (LayerNorm normalises per sample); "
            "imprinting the classifier only" % arch)
    classes, scale = imprint_classifier(model, centre, batch, files, gen, margin, class_index_path)
    names = reference.load_class_index(class_index_path) if class_index_path and \
        os.path.isfile(class_index_path) else {}
    for f, c in zip(files, classes):
        log("imprinted %-14s -> class %3d %s" % (os.path.basename(f), c, names.get(c, ("", ""))[1]))
    log("imprint scale %.3f" % scale)
    return model.eval(), files, centre


# --------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------

def top_stats(logits):
    """(distinct top-1 count, min top1-top2 margin, top-1 per row)."""
    top2 = logits.topk(2, dim=1)
    margins = top2.values[:, 0] - top2.values[:, 1]
    return len(set(top2.indices[:, 0].tolist())), float(margins.min()), top2.indices[:, 0].tolist()


def synthetic_tensors(transform):
    """Preprocessed valid images of the synthetic parity set (no shared photos)."""
    import make_test_images
    with tempfile.TemporaryDirectory() as d:
        manifest = make_test_images.generate(d, shared_dir=None, include_invalid=False)
        return torch.stack([reference.preprocess(e["path"], transform)
                            for e in manifest if e["valid"]])


def report(model, centre, files, check_synthetic, pre):
    with torch.no_grad():
        n, m, top = top_stats(model(centre))
    log("calibration images: %d distinct top-1 classes over %d images, min top1-top2 margin %.3f"
        % (n, len(files), m))
    log("  top-1: " + ", ".join("%s->%d" % (os.path.basename(f), c) for f, c in zip(files, top)))
    if check_synthetic:
        x = synthetic_tensors(reference.build_transform(**pre))
        with torch.no_grad():
            n, m, top = top_stats(model(x))
        log("synthetic test images: %d distinct top-1 classes over %d images, "
            "min top1-top2 margin %.3f" % (n, len(x), m))
        log("  top-1 classes: %s" % sorted(set(top)))


# --------------------------------------------------------------------------
# export, comparison, timing
# --------------------------------------------------------------------------

def to_torchscript(model, form):
    scripted = torch.jit.script(model.eval())
    return torch.jit.freeze(scripted) if form == "frozen" else scripted


def save(model, out, meta):
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    extra = {META_NAME: json.dumps(meta, sort_keys=True)}
    torch.jit.save(model, out, _extra_files=extra)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def compare(a, b):
    """Compare two exports: every state_dict tensor with torch.equal, plus file hashes."""
    ma, mb = torch.jit.load(a), torch.jit.load(b)
    sa, sb = ma.state_dict(), mb.state_dict()
    ok = sa.keys() == sb.keys()
    diff = [k for k in sa if k in sb and not torch.equal(sa[k], sb[k])]
    ok = ok and not diff
    if not sa:  # frozen modules have no state_dict; compare their outputs instead
        x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            ok = torch.equal(ma(x), mb(x))
    same_file = sha256(a) == sha256(b)
    print("state_dict tensors: %d, differing: %d %s; files byte-identical: %s"
          % (len(sa), len(diff), diff[:5], same_file))
    return ok


def measure(model, threads, runs, warmup=3):
    """Per-image forward time for the export forms, as a markdown table.

    Each form is saved to a temporary file and loaded back, because that is
    what the server sees; "prepare" is load (+freeze/optimize) time, and the
    first forward is reported separately because TorchScript's profiling
    executor specialises the graph during the first calls.
    """
    torch.set_num_threads(threads)
    rows = []
    with tempfile.TemporaryDirectory() as d:
        p_script, p_frozen = os.path.join(d, "s.pt"), os.path.join(d, "f.pt")
        torch.jit.save(to_torchscript(model, "script"), p_script)
        torch.jit.save(to_torchscript(model, "frozen"), p_frozen)
        variants = [
            ("script file, torch.jit.load", lambda: torch.jit.load(p_script).eval()),
            ("frozen file, torch.jit.load", lambda: torch.jit.load(p_frozen)),
            ("script file + freeze + optimize_for_inference after load (C shim)",
             lambda: torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.load(p_script).eval()))),
            ("frozen file + optimize_for_inference after load",
             lambda: torch.jit.optimize_for_inference(torch.jit.load(p_frozen))),
        ]
        gen = torch.Generator().manual_seed(0)
        inputs = {bs: torch.randn(bs, 3, 224, 224, generator=gen) for bs in (1, 4)}
        ref = None
        for name, prepare in variants:
            t0 = time.perf_counter()
            m = prepare()
            row = [name, "%.2f" % (time.perf_counter() - t0)]
            with torch.no_grad():
                t0 = time.perf_counter()
                m(inputs[1])
                row.append("%.0f" % ((time.perf_counter() - t0) * 1e3))
                for bs in (1, 4):
                    for _ in range(warmup):
                        m(inputs[bs])
                    ts = []
                    for _ in range(runs):
                        t0 = time.perf_counter()
                        m(inputs[bs])
                        ts.append(time.perf_counter() - t0)
                    # min alongside the median: on a shared 2-core box the
                    # median moves with other load, the min much less.
                    row.append("%.1f / %.1f" % (statistics.median(ts) / bs * 1e3, min(ts) / bs * 1e3))
                out = m(inputs[4])
            ref = out if ref is None else ref
            row.append("%.1e" % float((out - ref).abs().max()))
            rows.append(row)
            log("measured: %s" % " | ".join(row))
    head = ["form (%d threads, median of %d)" % (threads, runs), "load+prepare s",
            "1st forward ms (bs1)", "ms/img bs1 median / min", "ms/img bs4 median / min",
            "max abs logit diff vs script"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def load_fp32_export(path):
    """An fp32 file written by this script -> (the eager torchvision model of its arch with its
    weights, its metadata). FX quantization needs the eager module; TorchScript keeps the
    weights under the same names."""
    extra = {META_NAME: ""}
    scripted = torch.jit.load(path, map_location="cpu", _extra_files=extra)
    meta = json.loads(extra[META_NAME]) if extra[META_NAME] else {}
    arch = meta.get("arch")
    if arch not in torchvision.models.list_models(module=torchvision.models) or \
            meta.get("precision", "fp32") != "fp32":
        sys.exit("export_model: --fp32-model %s is not an fp32 torchvision-arch export of this script (metadata: %s)"
                 % (path, {k: meta.get(k) for k in ("arch", "precision")}))
    model = torchvision.models.get_model(arch, weights=None, num_classes=int(meta.get("num_classes", 1000)))
    try:
        model.load_state_dict(scripted.state_dict())
    except RuntimeError as e:
        sys.exit("export_model: --fp32-model %s: weights do not fit %s: %s" % (path, arch, str(e).split("\n")[0]))
    return model.eval(), meta


def quantize_hook(model, args, meta):
    """--quantize int8: the fp32 model -> scripted int8 module; meta gains precision,
    engine, calibration set and agreement with fp32 (scripts/quantize_int8.py)."""
    import quantize_int8
    files = calibration_files(args.calib_dir)
    # The model's own preprocessing, as the server will feed it.
    transform = reference.build_transform(**reference.preprocess_from_meta(meta))
    tests = [reference.preprocess(os.path.join(PROJECT_ROOT, "data", f), transform)
             for f in sorted(os.listdir(os.path.join(PROJECT_ROOT, "data")))
             if f.lower().endswith((".jpg", ".png"))]
    test = torch.stack(tests) if tests else None
    if not args.no_synthetic_check:
        synthetic = synthetic_tensors(transform)
        test = synthetic if test is None else torch.cat([test, synthetic])
    try:
        ts, qmeta = quantize_int8.quantize(model.eval(), files, args.quant_samples, args.quant_backend, test)
    except (RuntimeError, ValueError) as e:
        sys.exit("export_model: %s" % e)
    meta.update(qmeta)
    return torch.jit.freeze(ts) if args.form == "frozen" else ts


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="densenet121",
                    help="torchvision classification model name (default %(default)s)")
    ap.add_argument("--weights", choices=["pretrained", "seeded"],
                    help="ImageNet weights (needs internet) or offline seeded stand-in weights "
                         "(required unless --from-torchscript/--from-state-dict)")
    ap.add_argument("--from-torchscript", metavar="FILE", help="export your own TorchScript classifier")
    ap.add_argument("--from-state-dict", metavar="FILE",
                    help="export your own weights for --arch with --num-classes outputs")
    ap.add_argument("--num-classes", type=int, help="outputs of --from-state-dict's model")
    ap.add_argument("--labels", metavar="FILE",
                    help="your model's labels (JSON class index, JSON list or one per line): "
                         "checked against the model's outputs")
    ap.add_argument("--name", help="the model's name (default: --arch, or the file's stem)")
    ap.add_argument("--resize", type=_size, help="override: Resize n (shorter side) or h,w")
    ap.add_argument("--crop", type=_size, help="override: CenterCrop n or h,w")
    ap.add_argument("--interpolation", choices=sorted(reference.INTERPOLATIONS), help="override the filter")
    ap.add_argument("--mean", type=_floats3, help="override Normalize mean (three numbers, comma separated)")
    ap.add_argument("--std", type=_floats3, help="override Normalize std")
    ap.add_argument("--seed", type=int, default=0, help="seed for --weights seeded (default 0)")
    ap.add_argument("--calib-dir", default=DEFAULT_CALIB_DIR,
                    help="*.jpg/*.png used to calibrate seeded weights (default %(default)s)")
    ap.add_argument("--class-index", default=None, metavar="FILE",
                    help="imagenet_class_index.json used to avoid imprinting a class named like "
                         "a calibration file (default: the one in --calib-dir, if any)")
    ap.add_argument("--calib-samples", type=int, default=64,
                    help="BN calibration samples incl. augmentations (default %(default)s)")
    ap.add_argument("--calib-batch", type=int, default=16,
                    help="BN calibration batch size (default %(default)s)")
    ap.add_argument("--margin", type=float, default=3.0,
                    help="target top1-top2 logit margin on the calibration images (default %(default)s)")
    ap.add_argument("--no-synthetic-check", action="store_true",
                    help="skip the top-1 statistics on the synthetic parity images")
    ap.add_argument("--form", choices=["script", "frozen"], default="script",
                    help="save torch.jit.script(model) or torch.jit.freeze of it (default %(default)s; "
                         "the C shim freezes + optimizes after loading either way)")
    ap.add_argument("--out", help="output file (default models/<arch>.pt, models/densenet121.pt for densenet121)")
    ap.add_argument("--threads", type=int, default=2,
                    help="torch threads; also part of the determinism contract (default %(default)s)")
    ap.add_argument("--measure", action="store_true",
                    help="after exporting, time the export forms and print a markdown table")
    ap.add_argument("--measure-runs", type=int, default=20,
                    help="timed runs per form and batch size (default %(default)s)")
    ap.add_argument("--quantize", choices=["int8"], default=None,
                    help="save a statically quantized int8 model (scripts/quantize_int8.py): observers "
                         "calibrated on --calib-dir's photos through inferd's preprocessing "
                         "(--quant-samples samples)")
    ap.add_argument("--quant-samples", type=int, default=32,
                    help="--quantize: observer calibration samples, every --calib-dir photo through "
                         "inferd's preprocessing, then mirrored and rescaled ones (default %(default)s; "
                         "--calib-samples stays the seeded weights' BatchNorm samples)")
    ap.add_argument("--fp32-model", metavar="FILE.pt",
                    help="--quantize: quantize this fp32 file, made by this script, instead of building the "
                         "weights again (its state_dict goes back into torchvision's densenet121; its "
                         "metadata is kept)")
    ap.add_argument("--quant-backend", choices=["onednn", "qnnpack"], default="onednn",
                    help="quantized engine the int8 model is made for (default %(default)s)")
    ap.add_argument("--compare", metavar="OTHER.pt",
                    help="after exporting, check OTHER.pt has identical weights; exit 1 if not")
    args = ap.parse_args(argv)
    user = args.from_torchscript or args.from_state_dict
    if args.from_torchscript and args.from_state_dict:
        ap.error("--from-torchscript and --from-state-dict exclude each other")
    if args.fp32_model and not args.quantize:
        ap.error("--fp32-model needs --quantize int8")
    if args.fp32_model and not args.out:
        ap.error("--fp32-model needs --out (the int8 file is a new file)")
    if args.fp32_model and (user or args.weights):
        ap.error("--fp32-model takes its weights from the file: no --weights / --from-*")
    if not user and not args.weights and not args.fp32_model:
        ap.error("--weights is required (or --from-torchscript / --from-state-dict, "
                 "or --quantize int8 --fp32-model FILE.pt)")
    if user and args.weights:
        ap.error("--weights does not apply to --from-torchscript / --from-state-dict")
    if args.from_state_dict and not args.num_classes:
        ap.error("--from-state-dict needs --num-classes")
    if user and not args.labels:
        ap.error("your own model needs --labels FILE (its class names, checked against its outputs)")
    arch_given = bool(args.from_state_dict or args.weights or any(
        a == "--arch" or a.startswith("--arch=") for a in (sys.argv[1:] if argv is None else argv)))
    if arch_given:
        check_arch(args.arch)
    out = args.out or (DEFAULT_OUT if args.arch == "densenet121" else os.path.join("models", args.arch + ".pt"))

    t_start = time.perf_counter()
    torch.set_num_threads(args.threads)
    if arch_given:
        pre, pre_source = arch_preprocess(args.arch)
    else:
        pre, pre_source = (dict(resize=256, crop=224, interpolation="bilinear", mean=reference.DEFAULT_MEAN,
                                std=reference.DEFAULT_STD), "ImageNet's usual Resize(256)/CenterCrop(224)")
    pre = apply_overrides(pre, args)
    log("preprocessing: %s (from %s%s)" % (meta_preprocess(pre), pre_source,
                                            ", with overrides" if any(getattr(args, k) is not None for k in (
                                                "resize", "crop", "interpolation", "mean", "std")) else ""))
    crop_h, crop_w = reference.crop_hw(pre["crop"])

    files, centre, labels_count = [], None, None
    stored_meta = None
    if args.fp32_model:
        model, stored_meta = load_fp32_export(args.fp32_model)
        num_classes = int(stored_meta.get("num_classes", 1000))
        weights_kind = stored_meta.get("weights", "unknown")
    elif user:
        labels_count = count_labels(args.labels)
        if args.from_state_dict:
            model = torchvision.models.get_model(args.arch, weights=None, num_classes=args.num_classes)
            state = torch.load(args.from_state_dict, map_location="cpu")
            model.load_state_dict(state)
            model.eval()
        else:
            model = torch.jit.load(args.from_torchscript, map_location="cpu").eval()
        with torch.no_grad():
            probe = model(torch.zeros(1, 3, crop_h, crop_w))
        if probe.dim() != 2 or probe.shape[0] != 1:
            sys.exit("export_model: the model's output is %s, not [batch, classes]" % list(probe.shape))
        num_classes = int(probe.shape[1])
        if num_classes != labels_count:
            sys.exit("export_model: the model outputs %d classes but %s has %d labels"
                     % (num_classes, args.labels, labels_count))
        weights_kind = "user"
    elif args.weights == "pretrained":
        model = build_pretrained(args.arch).eval()
        num_classes = 1000
        weights_kind = "pretrained"
    else:
        class_index = args.class_index or next(
            (p for p in (os.path.join(args.calib_dir, "imagenet_class_index.json"),
                         os.path.join(PROJECT_ROOT, "imagenet_class_index.json")) if os.path.exists(p)),
            os.path.join(args.calib_dir, "imagenet_class_index.json"))
        model, files, centre = seeded_model(args.arch, pre, args.seed, args.calib_dir, args.calib_samples,
                                            args.calib_batch, args.margin, class_index)
        report(model, centre, files, not args.no_synthetic_check, pre)
        num_classes = 1000
        weights_kind = "seeded"

    arch = args.arch if arch_given else "torchscript"
    name = args.name or (os.path.splitext(os.path.basename(args.from_torchscript))[0]
                         if args.from_torchscript else args.arch)
    meta = {
        "arch": arch,
        "name": name,
        "weights": weights_kind,
        "seed": args.seed if weights_kind == "seeded" else None,
        "input_size": crop_h,
        "num_classes": num_classes,
        "preprocess": meta_preprocess(pre),
        "preprocess_source": pre_source,
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "calibration_images": [os.path.basename(f) for f in files],
        "form": args.form,
    }
    if user:
        meta["labels"] = os.path.basename(args.labels)
    if stored_meta is not None:
        meta = dict(stored_meta, form=args.form, fp32_source=os.path.basename(args.fp32_model))
    if args.quantize:
        ts = quantize_hook(model, args, meta)
        model = ts  # the reload check below compares the file with the int8 module
    elif args.from_torchscript:
        ts = model if args.form == "script" else torch.jit.freeze(model)
    else:
        ts = to_torchscript(model, args.form)
    args.out = out
    save(ts, args.out, meta)

    # Reload and check the file reproduces the eager model, so a broken
    # export is caught here rather than in the C server.
    if centre is not None:
        loaded = reference.load_model(args.out, args.threads)
        with torch.no_grad():
            diff = float((loaded(centre) - model(centre)).abs().max())
        log("reloaded %s: max |logit diff| vs eager %.2e" % (args.out, diff))
    log("wrote %s (%s, %s weights, sha256 %s) in %.1fs" % (
        args.out, args.form, meta.get("weights"), sha256(args.out)[:16], time.perf_counter() - t_start))

    status = 0
    if args.compare:
        status = 0 if compare(args.out, args.compare) else 1
    if args.measure and args.quantize:
        import quantize_int8
        print(quantize_int8.measure_forms(ts, 1, args.measure_runs))
    elif args.measure:
        print(measure(model, args.threads, args.measure_runs))
    return status


def _size(text):
    """n or h,w."""
    parts = [int(x) for x in text.split(",")]
    if len(parts) not in (1, 2) or min(parts) <= 0:
        raise argparse.ArgumentTypeError("expected n or h,w of positive integers, not %r" % text)
    return parts[0] if len(parts) == 1 else parts


def _floats3(text):
    parts = tuple(float(x) for x in text.split(","))
    if len(parts) != 3:
        raise argparse.ArgumentTypeError("expected three comma-separated numbers, not %r" % text)
    return parts


def count_labels(path):
    """Labels in a class index file, by the server's rules (labels.h): JSON
    object or list when the first non-blank character is { or [, else one
    label per non-final line."""
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8-sig")
    if not path.endswith(".txt") and text.lstrip()[:1] in ("{", "["):
        return len(json.loads(text))
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    empty = [i + 1 for i, line in enumerate(lines) if line.rstrip("\r") == ""]
    if empty:
        sys.exit("export_model: %s line %d is empty (one label per line)" % (path, empty[0]))
    return len(lines)


def _pin_hash_seed():
    """Re-exec once with PYTHONHASHSEED=0 so the saved file is byte-reproducible (see Determinism)."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


if __name__ == "__main__":
    _pin_hash_seed()
    sys.exit(main())
