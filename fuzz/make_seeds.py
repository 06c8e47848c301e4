#!/usr/bin/env python3
"""Writes seed corpora for the fuzzers: small images of every accepted format
(made here with PIL) and HTTP requests that carry them the ways clients do.

    /usr/bin/python3 fuzz/make_seeds.py OUTDIR    -> OUTDIR/image/*, OUTDIR/http/*
"""
import base64
import io
import json
import os
import sys

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
        "chunked": (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n" +
                    hex(len(png))[2:].encode() + b"\r\n" + png + b"\r\n0\r\n\r\n"),
        "v2_infer": post(b"/v2/models/densenet121/infer", b"application/json", infer),
        "keepalive_two": b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /ready HTTP/1.1\r\nHost: x\r\n\r\n",
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
    for sub, items in (("image", imgs), ("http", requests(imgs)), ("model_files", model_files())):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
        for name, data in items.items():
            with open(os.path.join(out, sub, name), "wb") as f:
                f.write(data)
    print(f"seeds: {len(imgs)} images, {len(requests(imgs))} requests in {out}")


if __name__ == "__main__":
    main()
