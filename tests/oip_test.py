#!/usr/bin/env python3
"""Open Inference Protocol test of the real server (issue 12): requests as
Triton-style clients send them, built byte for byte here from the specs
(KServe's required_api.md, Triton's extension_binary_data.md and
extension_classification.md), independently of the server's code:

  * a request exactly as a Triton client sends it by default (BYTES input
    "image" with binary_data_size, Inference-Header-Content-Length, binary
    output requested) classifies each photo as POST / does;
  * binary in / JSON out, binary in / binary out (the same FP32 logits to
    the bit), the classification extension with binary output
    ("<logit>:<index>:<label>" BYTES elements), a batch of 4 images in one
    binary tensor (4 rows in order);
  * the FP32 "tensor" input [N,3,224,224], JSON and binary, made by
    torchvision's Resize/CenterCrop/ToTensor/Normalize (bit-identical to
    inferd's own preprocessing, see parity_reference): logits equal to the
    image path's exactly; mixed binary BYTES + JSON FP32 inputs;
  * every malformed size -> 400 JSON naming the input, the server still
    serving; the statistics and configuration extensions; model_name
    moving every v2 route (the old name 404), /info and /metrics (promtool).

Prints "N passed, M failed" alone on its last line; exits non-zero on failure.

    /usr/bin/python3 tests/oip_test.py --binary build/inferd [--model M]
"""

import json
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))

from server import Server  # noqa: E402
from checks import check, results, find_model, loads, is_json_error, hdr, server_test_parser  # noqa: E402

NAME = "densenet121"
CLASSES = 1000
PHOTOS = ("dog", "lion", "giraffe", "monkey")


# --------------------------------------------------------- the wire format --
# Written from the binary tensor data extension: the JSON header, then each
# binary input's bytes in input order; BYTES elements are a 4-byte
# little-endian length and the bytes; FP32 is little-endian row-major.

def bytes_tensor(elements):
    return b"".join(struct.pack("<I", len(e)) + e for e in elements)


def fp32_tensor(values):
    return struct.pack("<%df" % len(values), *values)


def infer_body(inputs, outputs=None, parameters=None, request_id=None):
    """inputs: (name, datatype, shape, binary bytes or None, json data or None).
    Returns (body, header_len)."""
    header = {"inputs": []}
    if request_id:
        header["id"] = request_id
    tail = b""
    for name, datatype, shape, binary, data in inputs:
        entry = {"name": name, "datatype": datatype, "shape": shape}
        if binary is not None:
            entry["parameters"] = {"binary_data_size": len(binary)}
            tail += binary
        else:
            entry["data"] = data
        header["inputs"].append(entry)
    if outputs is not None:
        header["outputs"] = outputs
    if parameters is not None:
        header["parameters"] = parameters
    head = json.dumps(header).encode()
    return head + tail, len(head)


def post_infer(server, body, header_len, name=NAME, content_type="application/octet-stream", path=None):
    headers = {"Inference-Header-Content-Length": str(header_len)}
    if content_type:
        headers["Content-Type"] = content_type
    return server.request("POST", path or f"/v2/models/{name}/infer", body, headers)


def split_response(status, headers, data):
    """The JSON header and, for each output, its binary bytes (or None)."""
    hl = hdr(headers, "Inference-Header-Content-Length")
    head = data[:int(hl)] if hl is not None else data
    obj = loads(head)
    if not isinstance(obj, dict):
        return None, []
    pos = len(head)
    blobs = []
    for out in obj.get("outputs") or []:
        size = (out.get("parameters") or {}).get("binary_data_size")
        if size is None:
            blobs.append(None)
        else:
            blobs.append(data[pos:pos + size])
            pos += size
    if pos != len(data):
        blobs.append(b"<trailing bytes>")
    return obj, blobs


def floats(blob):
    return list(struct.unpack("<%df" % (len(blob) // 4), blob))


def elements(blob):
    out, pos = [], 0
    while pos + 4 <= len(blob):
        (n,) = struct.unpack_from("<I", blob, pos)
        out.append(blob[pos + 4:pos + 4 + n])
        pos += 4 + n
    return out


def argmax(row):
    return max(range(len(row)), key=lambda c: row[c])


# ------------------------------------------------------------- reference --

def torchvision_tensor(jpeg):
    """The tensor inferd makes from an image, by the reference it is
    bit-identical to (PIL + torchvision, as in parity_reference)."""
    import io
    from PIL import Image
    from torchvision import transforms
    t = transforms.Compose([transforms.Resize(255), transforms.CenterCrop(224), transforms.ToTensor(),
                            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    return t(Image.open(io.BytesIO(jpeg)).convert("RGB")).contiguous()


# -------------------------------------------------------------- sections --

def section_metadata(server, name=NAME):
    st, _, body = server.request("GET", "/v2")
    meta = loads(body) or {}
    ext = meta.get("extensions") or []
    for e in ("binary_tensor_data", "classification", "statistics", "model_configuration"):
        check(e in ext, f"/v2 lists the {e} extension ({ext})")
    st, _, body = server.request("GET", f"/v2/models/{name}")
    m = loads(body) or {}
    check(st == 200 and m.get("name") == name and m.get("versions") == ["1"], f"model metadata {st} {m.get('name')}")
    check(m.get("platform") == "pytorch_libtorch", f"platform pytorch_libtorch ({m.get('platform')})")
    ins = {i.get("name"): i for i in m.get("inputs") or []}
    check(ins.get("image", {}).get("datatype") == "BYTES" and ins["image"].get("shape") == [-1],
          f"input image BYTES [-1]: {ins.get('image')}")
    check(ins.get("tensor", {}).get("datatype") == "FP32" and ins["tensor"].get("shape") == [-1, 3, 224, 224],
          f"input tensor FP32 [-1,3,224,224]: {ins.get('tensor')}")
    outs = m.get("outputs") or [{}]
    check(outs[0].get("name") == "logits" and outs[0].get("datatype") == "FP32" and outs[0].get("shape") == [-1, CLASSES],
          f"output logits FP32 [-1,{CLASSES}]: {outs}")


def section_triton_default(server, photos, want):
    """What tritonclient.http sends by default: BYTES input with
    binary_data_size, Inference-Header-Content-Length, and binary_data true
    on the requested output."""
    logits_of = {}
    for n in PHOTOS:
        body, hl = infer_body([("image", "BYTES", [1], bytes_tensor([photos[n]]), None)],
                              outputs=[{"name": "logits", "parameters": {"binary_data": True}}])
        st, h, data = post_infer(server, body, hl, content_type=None)
        obj, blobs = split_response(st, h, data)
        ok = st == 200 and obj is not None and len(blobs) == 1 and blobs[0] is not None
        check(ok, f"Triton-default request for {n}: {st} {data[:160]!r}")
        if not ok:
            continue
        out = obj["outputs"][0]
        check(out.get("datatype") == "FP32" and out.get("shape") == [1, CLASSES]
              and out["parameters"].get("binary_data_size") == 4 * CLASSES and "data" not in out,
              f"{n}: binary logits output FP32 [1,{CLASSES}], binary_data_size {4 * CLASSES}: {out}")
        check(hdr(h, "Content-Type") == "application/octet-stream", f"binary response Content-Type ({hdr(h, 'Content-Type')})")
        row = floats(blobs[0])
        logits_of[n] = row
        check(argmax(row) == want[n], f"{n}: binary logits argmax {argmax(row)} == POST / class {want[n]}")
    return logits_of


def section_binary_shapes(server, photos, want, labels, logits_of):
    dog = photos["dog"]
    # binary in, JSON out (no output named: all outputs, JSON)
    body, hl = infer_body([("image", "BYTES", [1], bytes_tensor([dog]), None)], request_id="b1")
    st, h, data = post_infer(server, body, hl, content_type="application/json")
    obj, blobs = split_response(st, h, data)
    check(st == 200 and hdr(h, "Inference-Header-Content-Length") is None and obj and obj.get("id") == "b1",
          f"binary in / JSON out: 200 JSON without the header length ({st} {data[:120]!r})")
    vals = ((obj or {}).get("outputs") or [{}])[0].get("data") or []
    check(len(vals) == CLASSES and argmax(vals) == want["dog"], "binary in / JSON out: logits argmax is the class")
    if "dog" in logits_of and len(vals) == CLASSES:
        check([struct.unpack("<f", struct.pack("<f", v))[0] for v in vals] == logits_of["dog"],
              "JSON logits equal the binary logits to the bit")

    # binary_data_output: true at request level
    body, hl = infer_body([("image", "BYTES", [1], bytes_tensor([dog]), None)], parameters={"binary_data_output": True})
    st, h, data = post_infer(server, body, hl)
    obj, blobs = split_response(st, h, data)
    check(st == 200 and blobs and blobs[0] is not None and floats(blobs[0]) == logits_of.get("dog"),
          f"binary_data_output: binary logits, the same floats ({st})")

    # classification with binary output: BYTES elements "<logit>:<index>:<label>"
    body, hl = infer_body([("image", "BYTES", [1], bytes_tensor([dog]), None)],
                          outputs=[{"name": "logits", "parameters": {"classification": 3, "binary_data": True}}])
    st, h, data = post_infer(server, body, hl)
    obj, blobs = split_response(st, h, data)
    ok = st == 200 and blobs and blobs[0] is not None
    check(ok, f"classification + binary output: {st} {data[:160]!r}")
    if ok:
        out = obj["outputs"][0]
        check(out.get("datatype") == "BYTES" and out.get("shape") == [1, 3], f"classification output BYTES [1,3]: {out}")
        parts = [e.decode().split(":", 2) for e in elements(blobs[0])]
        check(len(parts) == 3 and all(len(p) == 3 for p in parts), f"three 'logit:index:label' elements: {parts}")
        if len(parts) == 3 and all(len(p) == 3 for p in parts):
            check(int(parts[0][1]) == want["dog"] and parts[0][2] == labels[want["dog"]],
                  f"top element is the class and its label: {parts[0]}")
            row = logits_of.get("dog") or []
            top3 = sorted(range(len(row)), key=lambda c: -row[c])[:3]
            check([int(p[1]) for p in parts] == top3, f"classification indices are the top 3 logits {top3}")
            check(all(abs(float(p[0]) - row[int(p[1])]) < 1e-5 for p in parts) if row else False,
                  "each element's value is that class's logit")

    # a batch of 4 images in one binary tensor: 4 rows in order
    batch = [photos[n] for n in PHOTOS]
    body, hl = infer_body([("image", "BYTES", [4], bytes_tensor(batch), None)],
                          outputs=[{"name": "logits", "parameters": {"binary_data": True}},
                                   {"name": "classification", "parameters": {"classification": 1}}])
    st, h, data = post_infer(server, body, hl)
    obj, blobs = split_response(st, h, data)
    ok = st == 200 and len(blobs) == 2 and blobs[0] is not None and blobs[1] is None
    check(ok, f"batch of 4 in one binary tensor, binary logits + JSON classification: {st} {data[:160]!r}")
    if ok:
        rows = floats(blobs[0])
        check(len(rows) == 4 * CLASSES, f"4 x {CLASSES} logits ({len(rows)})")
        got = [argmax(rows[i * CLASSES:(i + 1) * CLASSES]) for i in range(4)]
        check(got == [want[n] for n in PHOTOS], f"4 rows in order: {got} == {[want[n] for n in PHOTOS]}")
        check(all(rows[i * CLASSES:(i + 1) * CLASSES] == logits_of.get(n) for i, n in enumerate(PHOTOS)),
              "each batched row equals that image's own logits exactly")
        cls = obj["outputs"][1]
        check(cls.get("shape") == [4, 1] and [int(s.split(":")[1]) for s in cls.get("data") or []] == [want[n] for n in PHOTOS],
              f"classification of the batch, JSON, in order: {cls.get('data')}")
    # shape [4,1] as numpy arrays of shape (4,1) give
    body, hl = infer_body([("image", "BYTES", [4, 1], bytes_tensor(batch), None)],
                          outputs=[{"name": "classification", "parameters": {"classification": 1, "binary_data": True}}])
    st, h, data = post_infer(server, body, hl)
    obj, blobs = split_response(st, h, data)
    tops = [int(e.decode().split(":")[1]) for e in elements(blobs[0])] if st == 200 and blobs and blobs[0] else None
    check(tops == [want[n] for n in PHOTOS], f"shape [4,1] batch, binary classification in order: {st} {tops}")


def section_tensor_input(server, photos, logits_of):
    try:
        tensors = {n: torchvision_tensor(photos[n]) for n in ("dog", "lion")}
    except Exception as e:  # noqa: BLE001
        check(False, f"torchvision reference tensor: {e}")
        return
    flat = {n: t.flatten().tolist() for n, t in tensors.items()}
    want_out = [{"name": "logits", "parameters": {"binary_data": True}}]
    # binary FP32
    body, hl = infer_body([("tensor", "FP32", [1, 3, 224, 224], fp32_tensor(flat["dog"]), None)], outputs=want_out)
    st, h, data = post_infer(server, body, hl)
    obj, blobs = split_response(st, h, data)
    row = floats(blobs[0]) if st == 200 and blobs and blobs[0] else None
    check(row is not None and row == logits_of.get("dog"),
          f"FP32 tensor input, binary: logits equal the image path's exactly ({st} {data[:120]!r})")
    # JSON FP32, nested as numpy's tolist() gives; Python floats print exactly
    nested = tensors["dog"].unsqueeze(0).tolist()
    req = {"inputs": [{"name": "tensor", "datatype": "FP32", "shape": [1, 3, 224, 224], "data": nested}],
           "outputs": want_out}
    st, h, data = server.request("POST", f"/v2/models/{NAME}/infer", json.dumps(req).encode(),
                                 {"Content-Type": "application/json"})
    obj, blobs = split_response(st, h, data)
    row = floats(blobs[0]) if st == 200 and blobs and blobs[0] else None
    check(row is not None and row == logits_of.get("dog"),
          f"FP32 tensor input, JSON: logits equal the image path's exactly ({st} {data[:120]!r})")
    # mixed: the dog as binary BYTES, the lion as a JSON FP32 tensor -> rows in input order
    body, hl = infer_body([("image", "BYTES", [1], bytes_tensor([photos["dog"]]), None),
                           ("tensor", "FP32", [1, 3, 224, 224], None, flat["lion"])], outputs=want_out)
    st, h, data = post_infer(server, body, hl)
    obj, blobs = split_response(st, h, data)
    rows = floats(blobs[0]) if st == 200 and blobs and blobs[0] else []
    check(len(rows) == 2 * CLASSES and rows[:CLASSES] == logits_of.get("dog") and rows[CLASSES:] == logits_of.get("lion"),
          f"mixed binary BYTES + JSON FP32 inputs: rows in input order, each exact ({st} {data[:120]!r})")
    # tensor validation
    bad = list(flat["dog"])
    bad[1234] = float("nan")
    body, hl = infer_body([("tensor", "FP32", [1, 3, 224, 224], fp32_tensor(bad), None)])
    st, _, data = post_infer(server, body, hl)
    check(st == 400 and is_json_error(data) and b"tensor" in data, f"NaN in the tensor: 400 naming the input ({st} {data[:120]!r})")
    body, hl = infer_body([("tensor", "FP32", [1, 3, 200, 200], fp32_tensor(flat["dog"][:3 * 200 * 200]), None)])
    st, _, data = post_infer(server, body, hl)
    check(st == 400 and is_json_error(data), f"tensor of the wrong H, W: 400 ({st} {data[:120]!r})")


def section_malformed(server, photos):
    dog = photos["dog"]
    one = bytes_tensor([dog])
    head = lambda size, n=1: json.dumps({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [n],  # noqa: E731
                                                     "parameters": {"binary_data_size": size}}]}).encode()
    cases = []
    h = head(len(one))
    cases.append(("header length past the body", h + one, len(h) + len(one) + 10, None))
    cases.append(("header length inside the JSON", h + one, len(h) - 5, None))
    cases.append(("header length not a number", h + one, "12x", None))
    h = head(len(one) + 100)
    cases.append(("binary_data_size past the body", h + one, len(h), b"image"))
    h = head(len(one))
    cases.append(("binary sizes that do not add up (trailing bytes)", h + one + b"\0\0\0\0junk", len(h), None))
    h = head(len(one) - 10)
    cases.append(("element length running past its tensor", h + one, len(h), b"image"))
    h = head(len(one) + 4 + len(dog))
    cases.append(("more elements than shape", h + one + one, len(h), b"image"))
    h = head(len(one), 2)
    cases.append(("fewer elements than shape", h + one, len(h), b"image"))
    h = head(2)
    cases.append(("length prefix cut off", h + b"\x05\x00", len(h), b"image"))
    h = head(-1)
    cases.append(("negative binary_data_size", h + one, len(h), b"image"))
    t = fp32_tensor([0.0] * 100)
    h = json.dumps({"inputs": [{"name": "tensor", "datatype": "FP32", "shape": [1, 3, 224, 224],
                                "parameters": {"binary_data_size": len(t)}}]}).encode()
    cases.append(("FP32 binary_data_size not matching shape", h + t, len(h), b"tensor"))
    for label, body, hl, names in cases:
        headers = {"Inference-Header-Content-Length": str(hl), "Content-Type": "application/octet-stream"}
        st, _, data = server.request("POST", f"/v2/models/{NAME}/infer", body, headers)
        check(st == 400 and is_json_error(data), f"{label}: 400 JSON ({st} {data[:140]!r})")
        if names:
            check(names in data, f"{label}: the error names input {names.decode()} ({data[:140]!r})")
    # binary_data_size without the header
    h = head(len(one))
    st, _, data = server.request("POST", f"/v2/models/{NAME}/infer", h + one, {"Content-Type": "application/json"})
    check(st == 400 and is_json_error(data), f"binary_data_size without Inference-Header-Content-Length: 400 ({st})")
    check(server.request("GET", "/v2/health/live")[0] == 200, "server still serving after the malformed sizes")
    body, hl = infer_body([("image", "BYTES", [1], one, None)], outputs=[{"name": "logits", "parameters": {"classification": 1}}])
    st, _, data = post_infer(server, body, hl)
    check(st == 200, f"and still classifying ({st})")


def stats_of(server, name=NAME):
    st, _, body = server.request("GET", f"/v2/models/{name}/stats")
    obj = loads(body) or {}
    ms = (obj.get("model_stats") or [{}])[0]
    return st, ms


def section_stats_config(server, photos):
    st, before = stats_of(server)
    check(st == 200 and before.get("name") == NAME and before.get("version") == "1", f"GET stats: {st} {before.get('name')}")
    isb = before.get("inference_stats") or {}
    for k in ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output"):
        check(isinstance((isb.get(k) or {}).get("count"), int) and isinstance((isb.get(k) or {}).get("ns"), int),
              f"inference_stats.{k} has count and ns: {isb.get(k)}")
    body, hl = infer_body([("image", "BYTES", [2], bytes_tensor([photos["dog"], photos["lion"]]), None)])
    for _ in range(3):
        post_infer(server, body, hl)
    post_infer(server, b"{not json", 9)
    st, after = stats_of(server)
    isa = after.get("inference_stats") or {}
    d = lambda k: (isa.get(k) or {}).get("count", 0) - (isb.get(k) or {}).get("count", 0)  # noqa: E731
    check(d("success") == 3, f"success count +3 after 3 requests ({d('success')})")
    check(d("fail") == 1, f"fail count +1 after a bad body ({d('fail')})")
    check(after.get("inference_count", 0) - before.get("inference_count", 0) == 6, "inference_count +6 (3 x 2 images)")
    check(after.get("execution_count", 0) > before.get("execution_count", 0), "execution_count moved")
    check((isa.get("compute_infer") or {}).get("ns", 0) > (isb.get("compute_infer") or {}).get("ns", 0),
          "compute_infer ns grew")
    bs = after.get("batch_stats") or []
    check(len(bs) >= 1 and all(b.get("batch_size", 0) >= 1 and (b.get("compute_infer") or {}).get("count", 0) > 0 for b in bs),
          f"batch_stats by batch size: {[(b.get('batch_size'), (b.get('compute_infer') or {}).get('count')) for b in bs]}")
    check(after.get("last_inference", 0) > 0, "last_inference set")

    st, _, body = server.request("GET", f"/v2/models/{NAME}/config")
    cfg = loads(body) or {}
    check(st == 200 and cfg.get("name") == NAME and cfg.get("max_batch_size") == 2, f"GET config: {st} {str(cfg)[:200]}")
    check("max_queue_delay_microseconds" in (cfg.get("dynamic_batching") or {}), "config has dynamic batching settings")
    check(sorted(i.get("name") for i in cfg.get("input") or []) == ["image", "tensor"], "config lists both inputs")
    pre = (cfg.get("parameters") or {}).get("preprocessing") or {}
    check(pre.get("resize") == 255 and pre.get("crop") == 224, f"config gives the preprocessing: {pre}")
    st, _, body = server.request("POST", f"/v2/models/{NAME}/stats", b"{}")
    check(st == 405, f"POST stats: 405 ({st})")


def section_model_name(args, photos, want):
    server = Server(args.binary, args.model, args.class_index,
                    extra_args=["--http-threads", "2", "--warmup", "1", "--model-name", "my_classifier"],
                    ready_timeout=300)
    try:
        section_metadata(server, "my_classifier")
        for path in ("/v2/models/my_classifier", "/v2/models/my_classifier/versions/1",
                     "/v2/models/my_classifier/ready", "/v2/models/my_classifier/versions/1/ready",
                     "/v2/models/my_classifier/stats", "/v2/models/my_classifier/config"):
            st, _, body = server.request("GET", path)
            check(st == 200, f"GET {path}: 200 ({st} {body[:80]!r})")
        for path in ("/v2/models/densenet121", "/v2/models/densenet121/ready", "/v2/models/my_classifier/versions/2",
                     "/v2/models/my_classifier/versions/2/ready", "/v2/models/densenet121/stats"):
            st, _, body = server.request("GET", path)
            check(st == 404 and is_json_error(body), f"GET {path}: 404 JSON ({st} {body[:80]!r})")
        body, hl = infer_body([("image", "BYTES", [1], bytes_tensor([photos["dog"]]), None)],
                              outputs=[{"name": "logits", "parameters": {"classification": 1}}])
        st, _, data = post_infer(server, body, hl, name="densenet121")
        check(st == 404 and is_json_error(data), f"infer on the old name: 404 JSON ({st})")
        for path in ("/v2/models/my_classifier/infer", "/v2/models/my_classifier/versions/1/infer"):
            st, h, data = post_infer(server, body, hl, path=path)
            obj, _ = split_response(st, h, data)
            top = int(((obj or {}).get("outputs") or [{}])[0].get("data", ["0:-1"])[0].split(":")[1]) if st == 200 else None
            check(st == 200 and obj.get("model_name") == "my_classifier" and top == want["dog"],
                  f"POST {path}: model_name my_classifier, the dog's class ({st} {top})")
        st, _, data = post_infer(server, body, hl, path="/v2/models/my_classifier/versions/2/infer")
        check(st == 404 and is_json_error(data), f"infer on version 2: 404 JSON ({st})")
        info = loads(server.request("GET", "/info")[2]) or {}
        check((info.get("model") or {}).get("name") == "my_classifier", f"/info names the model: {info.get('model')}")
        text = server.request("GET", "/metrics")[2].decode()
        check('name="my_classifier"' in text, "/metrics labels the model my_classifier")
        promtool = shutil.which("promtool")
        if check(promtool is not None, "promtool available (Debian package prometheus, installed by install-deps.sh test)"):
            r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
            check(r.returncode == 0, f"promtool check metrics ({(r.stdout + r.stderr).strip()[:300]})")
        check(server.stop() == 0, "SIGTERM exits 0")
    finally:
        if server.proc.poll() is None:
            server.kill()
    st = subprocess.run([args.binary, "--model-name", "bad/name", "--check-config"], capture_output=True, text=True)
    check(st.returncode != 0 and "model_name" in st.stderr, f"a model_name with '/' is refused at start: {st.stderr.strip()}")


def classify(server, jpeg):
    st, _, body = server.request("POST", "/", jpeg, {"Content-Type": "image/jpeg"})
    return loads(body) if st == 200 else None


def main():
    ap = server_test_parser(__doc__)
    args = ap.parse_args()
    args.model = find_model(args.model)
    with open(args.class_index) as f:
        class_index = json.load(f)
    wnid_index = {v[0]: int(k) for k, v in class_index.items()}
    labels = [class_index[str(i)][1] for i in range(len(class_index))]
    photos = {}
    for n in PHOTOS:
        with open(os.path.join(args.shared_dir, n + ".jpg"), "rb") as f:
            photos[n] = f.read()
    server = None
    try:
        server = Server(args.binary, args.model, args.class_index,
                        extra_args=["--http-threads", "2", "--warmup", "1", "--max-batch", "2"], ready_timeout=300)
        want = {}
        for n in PHOTOS:
            r = classify(server, photos[n]) or {}
            want[n] = wnid_index.get(r.get("class_id"))
        check(all(v is not None for v in want.values()), f"POST / classifies every photo: {want}")
        section_metadata(server)
        logits_of = section_triton_default(server, photos, want)
        section_binary_shapes(server, photos, want, labels, logits_of)
        section_tensor_input(server, photos, logits_of)
        section_malformed(server, photos)
        section_stats_config(server, photos)
        check(server.stop() == 0, "SIGTERM exits 0")
        server = None
        section_model_name(args, photos, want)
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        check(False, f"test crashed: {e}")
    finally:
        if server is not None and server.proc.poll() is None:
            server.kill()
            print(server.log()[-3000:])
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
