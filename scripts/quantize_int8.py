"""Static int8 post-training quantization of an fp32 classifier (issue 14).

Called by ``scripts/export_model.py --quantize int8 --calib-dir DIR
[--quant-samples N]`` after the fp32 model is built and before it is saved:

    scripted, meta = quantize_int8.quantize(model, files, n_samples, backend="onednn",
                                            test_tensors=None)

What it does
------------
FX graph mode post-training quantization (``prepare_fx`` -> calibration
forwards -> ``convert_fx``) with the backend's default qconfig mapping:
weights per-channel symmetric qint8, activations quint8 with histogram
observers (``get_default_qconfig_mapping("onednn")``).  The observers see
real photos run through inferd's own preprocessing (``reference.py``'s
Resize(255) -> CenterCrop(224) -> ToTensor -> Normalize, bit-identical to the
C server's), first every photo as the server would see it, then the same
photos mirrored and at other resize scales until ``n_samples`` (no random
numbers: the calibration set, and so the file, is deterministic).

The result is scripted (``torch.jit.script``; the C shim freezes and runs
``optimize_for_inference`` after loading, like for fp32, see
``measure_forms``), and ``meta`` says what the file needs and how close it is
to fp32: precision, quantized engine, calibration set, and top-1 agreement
with the fp32 model on the calibration photos and on the test tensors, each
with the fp32 top1-top2 margin (an int8 model can only be expected to agree
where fp32 is not on a knife edge).
"""

import os
import statistics
import sys
import tempfile
import time

import torch
from torchvision.transforms import functional as TF

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPT_DIR)
import reference  # noqa: E402

# libtorch quantized engines this module can target. "onednn" (x86, AVX2 and
# up, VNNI when present) is the fast one on servers; "qnnpack" is the ARM /
# mobile one and also runs on x86, slowly.
BACKENDS = ("onednn", "qnnpack")
# Extra resize scales for calibration samples beyond one per photo: the
# server always resizes to 255, but a user's photos frame objects at every
# scale, so the observers should see activations of closer crops too.
EXTRA_SCALES = (1.0, 1.15, 1.3, 1.5, 1.75, 2.0)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def calibration_tensors(files, n_samples, transform=None):
    """Centre tensors (one per photo, the server's preprocessing) and the
    calibration batch of max(n_samples, len(files)) tensors."""
    transform = transform or reference.build_transform()
    imgs = [reference.load_rgb(f) for f in files]
    centre = torch.stack([transform(im) for im in imgs])
    resize = transform.transforms[0].size
    crop = transform.transforms[1].size
    tail = transform.transforms[2:]  # ToTensor, Normalize
    samples = list(centre)
    k = 0
    while len(samples) < n_samples:
        im = imgs[k % len(imgs)]
        variant = k // len(imgs)  # 0: mirrored at scale 1; then scales, alternating mirrors
        scale = EXTRA_SCALES[(variant // 2) % len(EXTRA_SCALES)]
        size = int(round((resize if isinstance(resize, int) else resize[0]) * scale))
        out = TF.center_crop(TF.resize(im, size), crop)
        if variant % 2 == 0:
            out = TF.hflip(out)
        for t in tail:
            out = t(out)
        samples.append(out)
        k += 1
    return centre, torch.stack(samples)


def describe_qconfig(qconfig):
    """'weights PerChannelMinMaxObserver torch.qint8 torch.per_channel_symmetric; activations ...'"""
    w, a = qconfig.weight(), qconfig.activation()
    return "weights %s %s %s; activations %s %s %s" % (type(w).__name__, w.dtype, w.qscheme,
                                                         type(a).__name__, a.dtype, a.qscheme)


def _prepare_convert(model, calib, backend, batch_size):
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = backend
    qconfig_mapping = get_default_qconfig_mapping(backend)
    prepared = prepare_fx(model.eval(), qconfig_mapping, example_inputs=(calib[:1],))
    with torch.no_grad():
        for i in range(0, len(calib), batch_size):
            prepared(calib[i:i + batch_size])
    described = "get_default_qconfig_mapping(%r): %s" % (backend, describe_qconfig(qconfig_mapping.global_qconfig))
    return convert_fx(prepared), described


def agreement(fp32_logits, int8_logits):
    """Per-image top-1 agreement with the fp32 margin, plus summary numbers."""
    top2 = fp32_logits.topk(2, dim=1)
    margins = (top2.values[:, 0] - top2.values[:, 1]).tolist()
    a, b = fp32_logits.argmax(1), int8_logits.argmax(1)
    pa, pb = fp32_logits.softmax(1), int8_logits.softmax(1)
    agree = (a == b).tolist()
    return {
        "images": len(agree),
        "top1_agree": int(sum(agree)),
        "min_fp32_margin": round(min(margins), 4) if margins else None,
        "min_fp32_margin_agreeing": round(min((m for m, ok in zip(margins, agree) if ok), default=0.0), 4),
        "max_abs_logit_diff": round(float((fp32_logits - int8_logits).abs().max()), 4),
        "max_prob_diff": round(float((pa - pb).abs().max()), 5),
        "per_image": [{"fp32_top1": int(x), "int8_top1": int(y), "fp32_margin": round(m, 3)}
                      for x, y, m in zip(a.tolist(), b.tolist(), margins)],
    }


def quantize(model, files, n_samples, backend="onednn", test_tensors=None, batch_size=16, transform=None):
    """fp32 eager model -> (scripted int8 module, metadata dict). transform: the
    model's preprocessing (a torchvision Compose of Resize, CenterCrop,
    ToTensor, Normalize; default inferd's, reference.build_transform())."""
    if backend not in BACKENDS:
        raise ValueError("quantize_int8: backend must be one of %s" % ", ".join(BACKENDS))
    if backend not in torch.backends.quantized.supported_engines:
        raise RuntimeError("quantize_int8: this torch has no %s quantized engine (it has %s)"
                           % (backend, ", ".join(torch.backends.quantized.supported_engines)))
    t0 = time.perf_counter()
    centre, calib = calibration_tensors(files, n_samples, transform)
    quantized, qconfig_text = _prepare_convert(model, calib, backend, batch_size)
    scripted = torch.jit.script(quantized.eval())
    log("int8: FX PTQ (%s) calibrated on %d samples from %d photos in %.1fs"
        % (backend, len(calib), len(files), time.perf_counter() - t0))

    with torch.no_grad():
        on_calib = agreement(model(centre), scripted(centre))
        on_test = agreement(model(test_tensors), scripted(test_tensors)) if test_tensors is not None else None
    for name, a in (("calibration photos", on_calib), ("test images", on_test)):
        if a:
            log("int8 vs fp32 on %s: top-1 %d/%d, min fp32 margin %.3f, max |logit diff| %.3f, "
                "max prob diff %.4f" % (name, a["top1_agree"], a["images"], a["min_fp32_margin"],
                                        a["max_abs_logit_diff"], a["max_prob_diff"]))
    meta = {
        "precision": "int8",
        "quantized_engine": backend,
        "quantization": {
            "method": "FX graph mode post-training static quantization",
            "qconfig": qconfig_text,
            "calibration_images": [os.path.basename(f) for f in files],
            "calibration_samples": len(calib),
            "agreement_calibration": on_calib,
            "agreement_test": on_test,
        },
    }
    return scripted, meta


def measure_forms(scripted, threads=1, runs=10, warmup=3):
    """ms/image of the forms the shim could run: the saved script, frozen, and
    frozen + optimize_for_inference (what the shim does with optimize on).
    Returns markdown lines; each form is saved and reloaded like the server does."""
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    x = {bs: torch.randn(bs, 3, 224, 224, generator=gen) for bs in (1, 2)}
    rows = []
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "q.pt")
        torch.jit.save(scripted, p)
        forms = [
            ("script", lambda: torch.jit.load(p).eval()),
            ("freeze", lambda: torch.jit.freeze(torch.jit.load(p).eval())),
            ("freeze + optimize_for_inference (shim default)",
             lambda: torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.load(p).eval()))),
        ]
        ref = None
        for name, make in forms:
            t0 = time.perf_counter()
            try:
                m = make()
            except Exception as e:  # a form that breaks is a finding, not a crash
                rows.append("| %s | failed: %s |" % (name, str(e).split("\n")[0]))
                continue
            prep = time.perf_counter() - t0
            cells = []
            with torch.no_grad():
                for bs in (1, 2):
                    for _ in range(warmup):
                        m(x[bs])
                    ts = []
                    for _ in range(runs):
                        t0 = time.perf_counter()
                        m(x[bs])
                        ts.append(time.perf_counter() - t0)
                    cells.append("%.1f / %.1f" % (statistics.median(ts) / bs * 1e3, min(ts) / bs * 1e3))
                out = m(x[2])
            ref = out if ref is None else ref
            rows.append("| %s | %.2f | %s | %s | %.1e |" % (name, prep, cells[0], cells[1],
                                                           float((out - ref).abs().max())))
            log("int8 form: " + rows[-1])
    head = ("| int8 form (%d thread(s), median / min of %d) | load+prepare s | ms/img bs1 | ms/img bs2 "
            "| max abs logit diff vs script |\n|---|---|---|---|---|" % (threads, runs))
    return head + "\n" + "\n".join(rows)
