#!/usr/bin/env python3
"""Writes seed corpora for the fuzzers: small images of every accepted format
(made here with PIL) and HTTP requests that carry them the ways clients do.

    /usr/bin/python3 fuzz/make_seeds.py OUTDIR    -> OUTDIR/image/*, OUTDIR/http/*, OUTDIR/kserve/*
"""
import base64
import io
import json
import os
import struct
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
    binary_infer_header = json.dumps(
        {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": len(png) + 4}}],
         "outputs": [{"name": "logits", "parameters": {"classification": 2, "binary_data": True}}]}).encode()
    return {
        "get_root": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "get_html": b"GET / HTTP/1.1\r\nHost: x\r\nAccept: text/html\r\n\r\n",
        "get_metrics": b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",
        "get_v2_model": b"GET /v2/models/densenet121 HTTP/1.1\r\nHost: x\r\n\r\n",
        "multipart_jpg": post(b"/", mp, multipart([(b"image", jpg)])),
        "multipart_two": post(b"/?topk=5", mp, multipart([(b"image", png), (b"images", jpg)])),
        "multipart_expect": post(b"/", mp, multipart([(b"image", png)]), b"Expect: 100-continue\r\n"),
        "raw_png": post(b"/", b"image/png", png),
        "chunked": (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nTransfer-Encoding: chunked\r\n\r\n" +
                    hex(len(png))[2:].encode() + b"\r\n" + png + b"\r\n0\r\n\r\n"),
        "v2_infer": post(b"/v2/models/densenet121/infer", b"application/json", infer),
        "v2_infer_binary": post(b"/v2/models/densenet121/infer", b"application/octet-stream",
                                binary_infer_header + struct.pack("<I", len(png)) + png,
                                b"Inference-Header-Content-Length: " + str(len(binary_infer_header)).encode() + b"\r\n"),
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


def main():
    out = sys.argv[1]
    imgs = images()
    for sub, items in (("image", imgs), ("http", requests(imgs)), ("kserve", kserve_requests(imgs))):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
        for name, data in items.items():
            with open(os.path.join(out, sub, name), "wb") as f:
                f.write(data)
    print(f"seeds: {len(imgs)} images, {len(requests(imgs))} requests, {len(kserve_requests(imgs))} infer bodies in {out}")


if __name__ == "__main__":
    main()
