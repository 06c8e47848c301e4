#!/usr/bin/env python3
"""Writes seed corpora for the fuzzers: small images of every accepted format
(made here with PIL; HEIC/AVIF with heif-enc) and HTTP requests that carry
them the ways clients do.

    /usr/bin/python3 fuzz/make_seeds.py OUTDIR
        -> OUTDIR/image/* (all formats), OUTDIR/http/*, OUTDIR/kserve/*,
           OUTDIR/webp/*, OUTDIR/tiff/*, OUTDIR/heif/*, OUTDIR/bmp/*, OUTDIR/pnm/*
           (one decoder's variants each)
"""
import base64
import io
import json
import os
import subprocess
import struct
import sys
import tempfile

from PIL import Image


def images():
    out = {}
    base = Image.new("RGB", (23, 17))
    px = base.load()
    for y in range(17):
        for x in range(23):
            px[x, y] = ((x * 11) % 256, (y * 15) % 256, ((x + y) * 7) % 256)
    for name, img, fmt, kw in [
        ("rgb.png", base, "PNG", {}),
        ("gray.png", base.convert("L"), "PNG", {}),
        ("rgba.png", base.convert("RGBA"), "PNG", {}),
        ("palette.png", base.convert("P"), "PNG", {}),
        ("bilevel.png", base.convert("1"), "PNG", {}),
        ("base.jpg", base, "JPEG", {"quality": 80}),
        ("progressive.jpg", base, "JPEG", {"quality": 80, "progressive": True}),
        ("gray.jpg", base.convert("L"), "JPEG", {}),
        ("cmyk.jpg", base.convert("CMYK"), "JPEG", {}),
        ("base.gif", base.convert("P"), "GIF", {}),
        ("base.bmp", base, "BMP", {}),
        ("palette.bmp", base.convert("P"), "BMP", {}),
    ]:
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        out[name] = buf.getvalue()
    return out


def format_seeds(base):
    """Variants of each issue-13 format, for that decoder's own harness."""
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(base.size))
    second = base.transpose(Image.Transpose.ROTATE_180)
    webp, tiff, heif = {}, {}, {}

    def save(store, name, img, fmt, **kw):
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        store[name] = buf.getvalue()

    save(webp, "lossy.webp", base, "WEBP", quality=70)
    save(webp, "lossless.webp", base, "WEBP", lossless=True)
    save(webp, "alpha.webp", rgba, "WEBP", quality=70)
    save(webp, "animated.webp", base, "WEBP", save_all=True, append_images=[second], duration=50)
    exif = Image.Exif()
    exif[0x0112] = 6
    save(webp, "exif.webp", base, "WEBP", exif=exif.tobytes())
    for comp in ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits", "jpeg"):
        save(tiff, "rgb_%s.tif" % comp, base, "TIFF", compression=comp)
    save(tiff, "gray.tif", base.convert("L"), "TIFF", compression="tiff_lzw")
    save(tiff, "bilevel_g4.tif", base.convert("1"), "TIFF", compression="group4")
    save(tiff, "palette.tif", base.convert("P"), "TIFF")
    save(tiff, "rgba.tif", rgba, "TIFF", compression="tiff_adobe_deflate")
    save(tiff, "cmyk.tif", base.convert("CMYK"), "TIFF")
    save(tiff, "gray16.tif", base.convert("L").convert("I").convert("I;16"), "TIFF")
    save(tiff, "exif.tif", base, "TIFF", exif=exif.tobytes())
    save(tiff, "multipage.tif", base, "TIFF", save_all=True, append_images=[second])
    with tempfile.TemporaryDirectory() as tmp:
        for name, src, args in (("q50.heic", base, []), ("alpha.heic", rgba, []),
                                ("q50.avif", base, ["-A"]), ("alpha.avif", rgba, ["-A"])):
            png, out = os.path.join(tmp, "in.png"), os.path.join(tmp, name)
            src.save(png)
            subprocess.run(["heif-enc", "-q", "50"] + args + [png, "-o", out], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(out, "rb") as f:
                heif[name] = f.read()
    return webp, tiff, heif


def bmp_pnm_seeds():
    """Every BMP and PNM variant of tests/bmp_pnm_cases.py under 64 KiB (the
    fuzzer's -max_len): RLE8/RLE4, OS/2, bitfields, P1-P6 at every maxval."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    import bmp_pnm_cases
    return {"bmppnm_" + name: data for name, data, _ in bmp_pnm_cases.cases() if len(data) <= 65536}


def requests(imgs):
    jpg, png = imgs["base.jpg"], imgs["rgb.png"]
    b = b"fuzzboundary"

    def multipart(parts):
        body = b""
        for name, data in parts:
            body += b"--" + b + b'\r\nContent-Disposition: form-data; name="' + name + b'"; filename="f"\r\n'
            body += b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n"
        return body + b"--" + b + b"--\r\n"

    def post(path, ctype, body, extra=b""):
        return (b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype +
                b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)

    mp = b"multipart/form-data; boundary=" + b
    infer = json.dumps({"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                                    "data": [base64.b64encode(png).decode()]}],
                        "outputs": [{"name": "classification", "parameters": {"classification": 3}}]}).encode()
    binary_infer_header = json.dumps(
        {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": len(png) + 4}}],
         "outputs": [{"name": "logits", "parameters": {"classification": 2, "binary_data": True}}]}).encode()
    infer_timeout = json.dumps({"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                                            "data": [base64.b64encode(png).decode()]}],
                                "parameters": {"timeout": 250000}}).encode()
    return {
        "get_root": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "get_html": b"GET / HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n\r\n",
        "get_metrics": b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "get_v2_model": b"GET /v2/models/densenet121 HTTP/1.1\r\nHost: x\r\n\r\n",
        "multipart_jpg": post(b"/", mp, multipart([(b"image", jpg)])),
        "multipart_two": post(b"/?topk=5", mp, multipart([(b"image", png), (b"images", jpg)])),
        "multipart_expect": post(b"/", mp, multipart([(b"image", png)]), b"Expect: 100-continue\r\n"),
        "repository_index": b"POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n"
                            b"Content-Length: 0\r\n\r\n",
        "repository_load": b"POST /v2/repository/models/stub/load HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        "raw_png": post(b"/", b"image/png", png),
        "multipart_exif": post(b"/?exif_orientation=1", mp, multipart([(b"image", jpg), (b"exif_orientation", b"0")]),
                               b"X-Exif-Orientation: true\r\n"),
        "chunked": (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n" +
                    hex(len(png))[2:].encode() + b"\r\n" + png + b"\r\n0\r\n\r\n"),
        "v2_infer": post(b"/v2/models/densenet121/infer", b"application/json", infer),
        "v2_infer_binary": post(b"/v2/models/densenet121/infer", b"application/octet-stream",
                                binary_infer_header + struct.pack("<I", len(png)) + png,
                                b"Inference-Header-Content-Length: " + str(len(binary_infer_header)).encode() + b"\r\n"),
        "v2_infer_timeout": post(b"/v2/models/densenet121/infer", b"application/json", infer_timeout),
        "raw_png_deadline": post(b"/", b"image/png", png, b"X-Request-Timeout-Ms: 250\r\n"),
        "keepalive_two": b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /ready HTTP/1.1\r\nHost: x\r\n\r\n",
    }


def kserve_requests(imgs):
    """Infer bodies for fuzz_kserve: 4 bytes of Inference-Header-Content-Length
    (little-endian, 0xffffffff = none) and the body, built from the binary
    tensor data extension's description."""
    png = imgs["rgb.png"]

    def element(data):
        return struct.pack("<I", len(data)) + data

    def binary(header, tail):
        h = json.dumps(header).encode()
        return struct.pack("<I", len(h)) + h + tail

    def image_input(n, size):
        return {"name": "image", "datatype": "BYTES", "shape": [n], "parameters": {"binary_data_size": size}}

    one = element(png)
    four = b"".join(element(png[:40 + i]) for i in range(4))
    tensor = struct.pack("<48f", *[(i % 13) / 7.0 - 0.9 for i in range(48)])
    tensor_input = {"name": "tensor", "datatype": "FP32", "shape": [1, 3, 4, 4],
                    "parameters": {"binary_data_size": len(tensor)}}
    cls_bin = {"name": "classification", "parameters": {"classification": 3, "binary_data": True}}
    return {
        "json_b64": b"\xff\xff\xff\xff" + json.dumps(
            {"id": "x", "inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                                    "data": [base64.b64encode(png[:30]).decode()]}]}).encode(),
        "binary_one": binary({"inputs": [image_input(1, len(one))]}, one),
        "binary_four_binary_out": binary({"inputs": [image_input(4, len(four))],
                                          "parameters": {"binary_data_output": True}}, four),
        "binary_classification": binary({"inputs": [image_input(1, len(one))], "outputs": [cls_bin]}, one),
        "tensor_binary": binary({"inputs": [tensor_input],
                                 "outputs": [{"name": "logits", "parameters": {"binary_data": True}}, cls_bin]}, tensor),
        "tensor_json": b"\xff\xff\xff\xff" + json.dumps(
            {"inputs": [{"name": "tensor", "datatype": "FP32", "shape": [1, 3, 4, 4],
                         "data": [[[[0.5] * 4] * 4] * 3]}]}).encode(),
        "mixed": binary({"inputs": [image_input(1, len(one)),
                                    {"name": "tensor", "datatype": "FP32", "shape": [1, 3, 4, 4], "data": [0.25] * 48}]},
                        one),
        "more_elements": binary({"inputs": [image_input(1, len(four))]}, four),
        "element_past_tensor": binary({"inputs": [image_input(1, 8)]}, struct.pack("<I", 9) + b"abcdefghi"),
    }


def model_files():
    """fuzz_model_files inputs: selector byte 0 (labels by content), 1 (text
    labels), 2 (inferd_meta.json)."""
    meta = {"arch": "efficientnet_b0", "name": "effnet", "weights": "seeded", "seed": 0, "num_classes": 1000,
            "preprocess": {"resize": 256, "crop": [224, 224], "interpolation": "bicubic",
                           "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}
    nonsquare = dict(meta, preprocess=dict(meta["preprocess"], resize=[256, 320], crop=[224, 288]))
    return {
        "labels_imagenet": b"\x00" + json.dumps({"0": ["n01440764", "tench"], "1": ["n2", "x"]}).encode(),
        "labels_list": b"\x00" + json.dumps(["daisy", "rose", "tulip"]).encode(),
        "labels_text": b"\x01" + "daisy\r\nrose\ntulip \u00e9\n".encode(),
        "labels_sniffed_text": b"\x00\xef\xbb\xbfa\nb\n",
        "meta_bicubic": b"\x02" + json.dumps(meta).encode(),
        "meta_nonsquare": b"\x02" + json.dumps(nonsquare).encode(),
        "meta_bare": b"\x02" + b'{"arch":"densenet121","weights":"seeded","seed":0}',
    }


def main():
    out = sys.argv[1]
    imgs = images()
    base = Image.open(io.BytesIO(imgs["rgb.png"])).convert("RGB")
    webp, tiff, heif = format_seeds(base)
    for store in (webp, tiff, heif):
        imgs.update(store)  # the whole-pipeline harness sees every format too
    bmp_pnm = bmp_pnm_seeds()
    imgs.update(bmp_pnm)
    bmp = {n: d for n, d in bmp_pnm.items() if n.endswith(".bmp")}
    pnm = {n: d for n, d in bmp_pnm.items() if n.endswith(".pnm")}
    for sub, items in (("image", imgs), ("http", requests(imgs)), ("kserve", kserve_requests(imgs)), ("model_files", model_files()), ("webp", webp), ("tiff", tiff),
                       ("heif", heif), ("bmp", bmp), ("pnm", pnm)):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
        for name, data in items.items():
            with open(os.path.join(out, sub, name), "wb") as f:
                f.write(data)
    print(f"seeds: {len(imgs)} images, {len(requests(imgs))} requests, {len(kserve_requests(imgs))} infer bodies in {out}")


if __name__ == "__main__":
    main()
