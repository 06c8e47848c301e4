#!/usr/bin/env python3
"""The issue-13 formats end to end: WebP, TIFF, HEIC, AVIF (and a JPEG with
EXIF orientation 6) classified through POST / (multipart and raw body),
the KServe v2 infer endpoint and the CLI, each answer held against the
Python reference on the same model file (scripts/reference.py: PIL +
torchvision; HEIC/AVIF through heif-convert), plus exif_orientation on a
second server.

    /usr/bin/python3 tests/formats_server_test.py --binary build/inferd [--model M]

Prints "N passed, M failed" alone on its last line; exits non-zero on failure.
"""
import base64
import io
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

import make_test_images  # noqa: E402
import reference  # noqa: E402
from server import Server, multipart  # noqa: E402
from checks import check, results, find_model, loads, server_test_parser  # noqa: E402

# Logits closer than this may swap places between libtorch runs in C and Python.
TIE = 2e-3


def make_files(tmp):
    """{name: path} of the formats to classify, made from one real photo."""
    photo = os.path.join(ARGS.shared_dir, "lion.jpg")
    im = Image.open(photo).convert("RGB").resize((480, 320), Image.LANCZOS)
    # No ICC profile: heif-convert cannot write the photo's into a PNG, and
    # then there is no reference for the HEIC/AVIF made from it.
    im.info = {}
    files = {}

    def save(name, img=im, **kw):
        p = os.path.join(tmp, name)
        img.save(p, **kw)
        files[name] = p

    save("lion.webp", quality=85)
    save("lion_lossless.webp", lossless=True)
    save("lion_lzw.tif", compression="tiff_lzw")
    save("lion_jpeg.tif", compression="jpeg", quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6
    save("lion_exif6.jpg", quality=90, exif=exif.tobytes())
    save("lion_exif6.webp", lossless=True, exif=exif.tobytes())
    png = os.path.join(tmp, "lion_src.png")
    im.save(png)
    for name, extra in (("lion.heic", []), ("lion.avif", ["-A"])):
        p = os.path.join(tmp, name)
        subprocess.run(["heif-enc", "-q", "80"] + extra + [png, "-o", p], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        files[name] = p
    return files


def reference_logits(model, path, transpose=False):
    transform = reference.build_transform()
    if transpose:
        with Image.open(path) as im:
            rgb = ImageOps.exif_transpose(im).convert("RGB")
    else:
        rgb = reference.load_rgb(path)
    return reference.forward(model, transform(rgb).contiguous()).numpy()


def same_ranking(ref_logits, got_indices, what):
    """got_indices (best first) is the reference's top-k, up to near-ties."""
    want = reference.topk(ref_logits, len(got_indices))
    ok = all(abs(float(ref_logits[g]) - float(ref_logits[w])) <= TIE for g, w in zip(got_indices, want))
    check(ok, f"{what}: top-{len(got_indices)} {got_indices} == reference {want}")


def post(server, data, how, query="?topk=5", fields=(), headers=None):
    if how == "multipart":
        body, ctype = multipart([("image", "upload", data)] + list(fields))
    else:
        body, ctype = data, "application/octet-stream"
    st, _, got = server.request("POST", "/" + query, body, dict(headers or {}, **{"Content-Type": ctype}))
    return st, loads(got)


def check_override(server, data, ref, what, query="?topk=5", fields=(), headers=None, how="multipart"):
    st, got = post(server, data, how, query, fields, headers)
    if check(st == 200 and isinstance(got, dict) and "predictions" in got, f"{what}: 200 ({st} {str(got)[:160]})"):
        same_ranking(ref, [wnid_to_index[p["class_id"]] for p in got["predictions"]], what)


def main():
    global ARGS
    ap = server_test_parser(__doc__)
    ap.add_argument("--cli", default=None, help="inferd-classify (default: next to --binary)")
    ARGS = ap.parse_args()
    ARGS.model = find_model(ARGS.model)
    cli = ARGS.cli or os.path.join(os.path.dirname(ARGS.binary), "inferd-classify")
    global wnid_to_index
    with open(ARGS.class_index) as f:
        index = {int(k): v[0] for k, v in json.load(f).items()}
    wnid_to_index = {v: k for k, v in index.items()}
    model = reference.load_model(ARGS.model)

    with tempfile.TemporaryDirectory() as tmp:
        files = make_files(tmp)
        refs = {n: reference_logits(model, p) for n, p in files.items()}
        server = Server(ARGS.binary, ARGS.model, ARGS.class_index, ["--warmup", "1"])
        try:
            for name, path in files.items():
                data = open(path, "rb").read()
                for how in ("multipart", "raw"):
                    st, got = post(server, data, how)
                    if not check(st == 200 and isinstance(got, dict) and "predictions" in got,
                                 f"POST / {name} ({how}): 200 with predictions ({st} {str(got)[:160]})"):
                        continue
                    check(got["class_id"] == index[reference.topk(refs[name], 1)[0]],
                          f"POST / {name} ({how}): class {got['class_id']} is the reference's")
                    same_ranking(refs[name], [wnid_to_index[p["class_id"]] for p in got["predictions"]],
                                 f"POST / {name} ({how})")
                # KServe v2, classification extension.
                req = {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1],
                                   "data": [base64.b64encode(data).decode()]}],
                       "outputs": [{"name": "classification", "parameters": {"classification": 5}}]}
                st, _, body = server.request("POST", "/v2/models/densenet121/infer", json.dumps(req).encode(),
                                             {"Content-Type": "application/json"})
                r = loads(body)
                if check(st == 200 and isinstance(r, dict), f"KServe {name}: 200 ({st} {body[:160]!r})"):
                    entries = (r.get("outputs") or [{}])[0].get("data") or []
                    same_ranking(refs[name], [int(e.split(":", 2)[1]) for e in entries], f"KServe {name}")
            # The default leaves EXIF orientation alone (Image.open): checked above
            # against the un-transposed reference for lion_exif6.*. Per request,
            # like topk: query, header or form field turn it on.
            for name in ("lion_exif6.jpg", "lion_exif6.webp"):
                data = open(files[name], "rb").read()
                ref = reference_logits(model, files[name], transpose=True)
                check_override(server, data, ref, f"{name} ?exif_orientation=1", "?topk=5&exif_orientation=1")
                check_override(server, data, ref, f"{name} X-Exif-Orientation: true", headers={"X-Exif-Orientation": "true"},
                               how="raw")
                check_override(server, data, ref, f"{name} form field exif_orientation=1",
                               fields=[("exif_orientation", None, b"1")])
                check_override(server, data, refs[name], f"{name} ?exif_orientation=0", "?topk=5&exif_orientation=0")
            for bad in ("2", "yes", ""):
                st, got = post(server, open(files["lion_exif6.jpg"], "rb").read(), "multipart",
                                "?exif_orientation=" + bad)
                check(st == 400 and isinstance(got, dict) and "exif_orientation" in str(got.get("error")),
                      f"?exif_orientation={bad!r}: 400 naming the parameter ({st} {got})")
            check(server.stop() == 0, "server exits 0 on SIGTERM")
        finally:
            server.kill()

        # exif_orientation=true: the EXIF files as exif_transpose shows them.
        server = Server(ARGS.binary, ARGS.model, ARGS.class_index, ["--warmup", "1", "--exif-orientation", "true"])
        try:
            for name in ("lion_exif6.jpg", "lion_exif6.webp"):
                ref = reference_logits(model, files[name], transpose=True)
                check(not np.array_equal(ref, refs[name]), f"{name}: orientation changes the reference's logits")
                st, got = post(server, open(files[name], "rb").read(), "multipart")
                if check(st == 200 and isinstance(got, dict) and "predictions" in got,
                         f"exif_orientation=true POST / {name}: 200 ({st})"):
                    same_ranking(ref, [wnid_to_index[p["class_id"]] for p in got["predictions"]],
                                 f"exif_orientation=true POST / {name}")
                check_override(server, open(files[name], "rb").read(), refs[name],
                               f"exif_orientation=true server, {name} ?exif_orientation=0", "?topk=5&exif_orientation=0")
            check(server.stop() == 0, "second server exits 0 on SIGTERM")
        finally:
            server.kill()

        # The CLI: same pipeline, same answers, both settings.
        for setting in ("false", "true"):
            names = list(files)
            proc = subprocess.run([cli, "--model", ARGS.model, "--class-index", ARGS.class_index, "--topk", "5",
                                   "--exif-orientation", setting] + [files[n] for n in names],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                                  timeout=600)
            lines = proc.stdout.strip().splitlines()
            if not check(proc.returncode == 0 and len(lines) == len(names),
                         f"CLI exif_orientation={setting}: rc 0 and one line per image "
                         f"({proc.returncode}, {len(lines)} lines; {proc.stderr[-300:]})"):
                continue
            for name, line in zip(names, lines):
                got = loads(line)
                transpose = setting == "true" and "exif6" in name
                ref = reference_logits(model, files[name], transpose) if transpose else refs[name]
                if check(isinstance(got, dict) and "predictions" in got, f"CLI {name}: JSON with predictions"):
                    same_ranking(ref, [wnid_to_index[p["class_id"]] for p in got["predictions"]],
                                 f"CLI exif_orientation={setting} {name}")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
