#!/usr/bin/env python3
"""What a precision costs in accuracy: compare models on the same images.

    /usr/bin/python3 scripts/accuracy.py --model models/densenet121.pt \\
        --model models/densenet121-int8.pt --images DIR [--labels folders|FILE.csv]

Every image under DIR (recursively: .jpg .jpeg .png .bmp .gif .webp) goes
through inferd's preprocessing (scripts/reference.py: PIL decode, Resize(255),
CenterCrop(224), ToTensor, Normalize; bit-identical to the C server's
tensors) and through every model. The first --model is the reference; for
each other model the tool prints

- top-1 agreement with the reference (overall, and among images whose
  reference top1-top2 logit margin is >= 1 and >= 3: a lower precision can
  only be expected to agree where the reference is not on a knife edge),
- top-5 overlap (mean of |top5(ref) & top5(model)| / 5),
- max and mean over images of the largest absolute softmax-probability
  difference,
- one line per image (up to --per-image-limit) with both top-1s and the
  reference margin;

and, when ground truth is given, top-1 and top-5 accuracy of every model:

- ``--labels folders``: ImageNet-style layout DIR/<wnid>/<image>
  (e.g. DIR/n01440764/ILSVRC2012_val_00000293.JPEG), wnids mapped to
  indices with --class-index;
- ``--labels FILE.csv``: rows ``image,label`` (image relative to DIR, or its
  basename), label a wnid, a class index or a class name; a header row is
  skipped.

int8 files are loaded with the quantized engine their metadata names.
``--json`` prints the whole result as JSON instead of text.
"""

import argparse
import csv
import json
import os
import sys

import torch

SCRIPT_DIR = os.path.dirname(os.path.abspath(__file__))
PROJECT_ROOT = os.path.dirname(SCRIPT_DIR)
sys.path.insert(0, SCRIPT_DIR)
import reference  # noqa: E402

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


def find_images(root):
    out = []
    for d, _, names in os.walk(root):
        out += [os.path.join(d, n) for n in names if n.lower().endswith(IMAGE_EXTS)]
    return sorted(out)


def class_lookup(class_index_path):
    """wnid -> index and name -> index from imagenet_class_index.json."""
    if not class_index_path or not os.path.isfile(class_index_path):
        return {}, {}
    names = reference.load_class_index(class_index_path)
    return ({wnid: i for i, (wnid, _) in names.items()},
            {name.lower(): i for i, (_, name) in names.items()})


def parse_label(text, by_wnid, by_name, where):
    t = text.strip()
    if t.isdigit():
        return int(t)
    if t in by_wnid:
        return by_wnid[t]
    if t.lower() in by_name:
        return by_name[t.lower()]
    sys.exit("accuracy: %s: label %r is not a class index, a wnid or a class name of the class index"
             % (where, t))


def ground_truth(images, root, labels, by_wnid, by_name):
    """Per-image true class index (None when an image has none)."""
    if not labels:
        return [None] * len(images)
    if labels == "folders":
        if not by_wnid:
            sys.exit("accuracy: --labels folders needs --class-index (imagenet_class_index.json)")
        out = []
        for p in images:
            wnid = os.path.basename(os.path.dirname(p))
            if wnid not in by_wnid:
                sys.exit("accuracy: %s: folder %r is not a wnid of the class index" % (p, wnid))
            out.append(by_wnid[wnid])
        return out
    table = {}
    with open(labels, newline="") as f:
        for n, row in enumerate(csv.reader(f), 1):
            if not row or row[0].startswith("#"):
                continue
            if len(row) < 2:
                sys.exit("accuracy: %s:%d: expected image,label" % (labels, n))
            if n == 1 and not os.path.splitext(row[0])[1]:
                continue  # header
            table[row[0].strip()] = parse_label(row[1], by_wnid, by_name, "%s:%d" % (labels, n))
    out = []
    for p in images:
        rel = os.path.relpath(p, root)
        out.append(table.get(rel, table.get(os.path.basename(p))))
    return out


def run_model(path, tensors, batch, threads):
    model = reference.load_model(path, threads)
    outs = []
    with torch.no_grad():
        for i in range(0, len(tensors), batch):
            outs.append(model(tensors[i:i + batch]).float())
    return torch.cat(outs)


def accuracy(logits, truth):
    pairs = [(i, t) for i, t in enumerate(truth) if t is not None]
    if not pairs:
        return None
    idx = torch.tensor([i for i, _ in pairs])
    t = torch.tensor([t for _, t in pairs])
    top5 = logits[idx].topk(5, dim=1).indices
    return {"images": len(pairs),
            "top1": float((top5[:, 0] == t).float().mean()),
            "top5": float((top5 == t[:, None]).any(1).float().mean())}


def compare(ref, other):
    top2 = ref.topk(2, dim=1)
    margin = top2.values[:, 0] - top2.values[:, 1]
    a, b = ref.argmax(1), other.argmax(1)
    agree = a == b
    t5a, t5b = ref.topk(5, dim=1).indices, other.topk(5, dim=1).indices
    overlap = torch.tensor([len(set(x.tolist()) & set(y.tolist())) / 5.0 for x, y in zip(t5a, t5b)])
    pdiff = (ref.softmax(1) - other.softmax(1)).abs().max(1).values
    res = {
        "images": len(a),
        "top1_agree": int(agree.sum()),
        "top1_agreement": float(agree.float().mean()),
        "top5_overlap": float(overlap.mean()),
        "max_prob_diff": float(pdiff.max()),
        "mean_prob_diff": float(pdiff.mean()),
        "max_abs_logit_diff": float((ref - other).abs().max()),
        "min_ref_margin": float(margin.min()),
    }
    for th in (1.0, 3.0):
        sel = margin >= th
        res["top1_agreement_margin_ge_%g" % th] = [int(agree[sel].sum()), int(sel.sum())]
    res["per_image"] = [{"top1_ref": int(x), "top1": int(y), "ref_margin": float(m), "prob_diff": float(d),
                         "top5_overlap": float(o)}
                        for x, y, m, d, o in zip(a, b, margin, pdiff, overlap)]
    return res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True,
                    help="TorchScript model; give it again to compare (the first is the reference)")
    ap.add_argument("--images", required=True, action="append",
                    help="directory of images (searched recursively); may be repeated")
    ap.add_argument("--labels", help="'folders' (DIR/<wnid>/image) or a CSV of image,label")
    ap.add_argument("--class-index", default=os.path.join(PROJECT_ROOT, "imagenet_class_index.json"),
                    help="imagenet_class_index.json for wnids and names (default %(default)s)")
    ap.add_argument("--batch", type=int, default=8, help="images per forward (default %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default %(default)s)")
    ap.add_argument("--per-image-limit", type=int, default=100,
                    help="print per-image lines for up to this many images (default %(default)s)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args(argv)

    images, truth = [], []
    by_wnid, by_name = class_lookup(args.class_index)
    for root in args.images:
        if not os.path.isdir(root):
            sys.exit("accuracy: --images %s is not a directory" % root)
        found = find_images(root)
        images += found
        truth += ground_truth(found, root, args.labels, by_wnid, by_name)
    tensors, kept, kept_truth, skipped = [], [], [], []
    for p, t in zip(images, truth):
        try:
            tensors.append(reference.preprocess(p))
            kept.append(p)
            kept_truth.append(t)
        except Exception as e:  # PIL refuses it; so would the server
            skipped.append((p, reference.error_message(e)))
    if not tensors:
        sys.exit("accuracy: no decodable image under %s" % ", ".join(args.images))
    x = torch.stack(tensors)
    logits = [run_model(m, x, args.batch, args.threads) for m in args.model]

    result = {"images": len(kept), "skipped": [{"image": p, "error": e} for p, e in skipped],
              "models": [], "comparisons": []}
    for path, lg in zip(args.model, logits):
        meta = reference.archive_meta(path) or {}
        result["models"].append({"model": path, "precision": meta.get("precision", "fp32"),
                                 "quantized_engine": meta.get("quantized_engine"),
                                 "accuracy": accuracy(lg, kept_truth)})
    for path, lg in zip(args.model[1:], logits[1:]):
        c = compare(logits[0], lg)
        c["reference"], c["model"] = args.model[0], path
        for row, p in zip(c["per_image"], kept):
            row["image"] = os.path.relpath(p)
        result["comparisons"].append(c)

    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    print("images: %d (%d skipped: not decodable)" % (len(kept), len(skipped)))
    for m in result["models"]:
        acc = m["accuracy"]
        print("model %s: precision %s%s; %s" % (
            m["model"], m["precision"], " (engine %s)" % m["quantized_engine"] if m["quantized_engine"] else "",
            "top-1 %.2f%%, top-5 %.2f%% on %d labelled images" % (100 * acc["top1"], 100 * acc["top5"], acc["images"])
            if acc else "no ground truth"))
    for c in result["comparisons"]:
        print("\n%s vs %s (reference):" % (c["model"], c["reference"]))
        print("  top-1 agreement %d/%d (%.2f%%); margin >= 1: %d/%d; margin >= 3: %d/%d" % (
            c["top1_agree"], c["images"], 100 * c["top1_agreement"],
            *c["top1_agreement_margin_ge_1"], *c["top1_agreement_margin_ge_3"]))
        print("  top-5 overlap %.2f%%; probability difference max %.4f, mean %.4f; max |logit diff| %.3f"
              % (100 * c["top5_overlap"], c["max_prob_diff"], c["mean_prob_diff"], c["max_abs_logit_diff"]))
        rows = c["per_image"][:args.per_image_limit]
        if rows:
            print("  %-40s %8s %8s %10s %9s %7s" % ("image", "ref top1", "top1", "ref margin", "prob diff", "top5"))
            for r in rows:
                print("  %-40s %8d %8d %10.3f %9.4f %6.0f%%%s" % (
                    r["image"][-40:], r["top1_ref"], r["top1"], r["ref_margin"], r["prob_diff"],
                    100 * r["top5_overlap"], "" if r["top1_ref"] == r["top1"] else "  DIFFERS"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
