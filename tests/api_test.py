#!/usr/bin/env python3
"""API test of the real server (issue 5): every endpoint and option the README
documents, checked against the server's own answers.

  * GET /health, /ready, /v2/health/live, /v2/health/ready, /v2,
    /v2/models/NAME, /v2/models/NAME/ready, /info, /metrics, where NAME is
    --model-name when given (passed to the server), else the default rule's
    answer for the test model: the arch stored in the file (densenet121);
  * POST /v2/models/NAME/infer (KServe v2, base64 BYTES input): one
    and several images, the classification extension ("logit:index:name",
    top-1 = the class POST / gives), raw FP32 logits [N,1000] (argmax = that
    class), and bad bodies (400 JSON);
  * topk by query, form field and X-Topk header; several image parts;
    X-Request-Id; Accept: text/html; curl's default Accept;
  * the CLI: --help, --version, --check-config, flag > env > file;
  * /metrics after real traffic, validated by `promtool check metrics`
    (Debian package prometheus; installed with apt-get when missing), and
    the counters that must have moved;
  * the access log (one line per request with id and status) and
    --log-format json;
  * with --model-int8 (export_model.py --quantize int8 of the same model):
    a server with precision int8 says so in its log, /info, /metrics and
    /v2 model metadata, answers the photos with fp32's classes, and the
    int8 file refused under precision fp32.

Prints "N passed, M failed" alone on its last line; exits non-zero on failure.

    /usr/bin/python3 tests/api_test.py --binary build/inferd [--model M]
"""

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))

from PIL import Image  # noqa: E402

from server import Server, multipart  # noqa: E402
from checks import check, results, find_model, loads, is_json_error, hdr, server_test_parser  # noqa: E402













# The v2 API's model name: --model-name when given, else what the server
# derives for the test model (the arch stored in the file).
MODEL_NAME = "densenet121"

# ---------------------------------------------------------------- sections --

def section_endpoints(server, version_cli):
    st, h, body = server.request("GET", "/health")
    check(st == 200 and loads(body) == {"status": "ok"}, f"GET /health: {st} {body!r}")
    check(hdr(h, "Content-Type") == "application/json", f"/health is application/json ({hdr(h, 'Content-Type')})")
    st, _, body = server.request("GET", "/v2/health/live")
    check(st == 200 and loads(body) == {"status": "ok"}, f"GET /v2/health/live: {st} {body!r}")
    st, _, body = server.request("GET", "/ready")
    check(st == 200 and loads(body) == {"status": "ready"}, f"GET /ready: {st} {body!r}")
    st, _, body = server.request("GET", "/v2/health/ready")
    check(st == 200 and loads(body) == {"status": "ready"}, f"GET /v2/health/ready: {st} {body!r}")
    st, h, body = server.request("HEAD", "/health")
    check(st == 200 and body == b"", f"HEAD /health: 200 without a body ({st} {body!r})")

    st, _, body = server.request("GET", "/v2")
    meta = loads(body)
    check(st == 200 and isinstance(meta, dict) and meta.get("name") == "inferd", f"GET /v2: {st} {body!r}")
    if isinstance(meta, dict):
        check("classification" in (meta.get("extensions") or []), f"/v2 lists the classification extension: {meta}")
        check(version_cli.endswith(" " + str(meta.get("version"))),
              f"/v2 version {meta.get('version')!r} is the one --version prints ({version_cli!r})")

    st, _, body = server.request("GET", f"/v2/models/{MODEL_NAME}")
    m = loads(body)
    check(st == 200 and isinstance(m, dict) and m.get("name") == MODEL_NAME, f"GET /v2/models/{MODEL_NAME}: {st} {body!r}")
    if isinstance(m, dict):
        ins, outs = m.get("inputs") or [{}], m.get("outputs") or [{}]
        check(ins[0].get("datatype") == "BYTES", f"model input is BYTES: {ins}")
        check(outs[0].get("datatype") == "FP32" and outs[0].get("shape") == [-1, 1000],
              f"model output is FP32 [-1,1000]: {outs}")
        check((m.get("parameters") or {}).get("weights") == "seeded", f"model metadata says the weights are seeded: {m}")
    st, _, body = server.request("GET", f"/v2/models/{MODEL_NAME}/ready")
    check(st == 200 and loads(body) == {"name": MODEL_NAME, "ready": True}, f"GET /v2/models/{MODEL_NAME}/ready: {st} {body!r}")
    st, _, body = server.request("GET", "/v2/models/resnet50")
    check(st == 404 and is_json_error(body), f"an unknown model is 404 JSON: {st} {body!r}")

    st, _, body = server.request("GET", "/info")
    info = loads(body)
    check(st == 200 and isinstance(info, dict), f"GET /info: {st} {body!r}")
    if isinstance(info, dict):
        model = info.get("model") or {}
        check(model.get("arch") == "densenet121" and model.get("weights") == "seeded" and model.get("seed") == 0,
              f"/info describes the seeded densenet121 (seed 0): {model}")
        check(model.get("name") == MODEL_NAME, f"/info gives the v2 model name {MODEL_NAME}: {model.get('name')}")
        check(version_cli.endswith(" " + str(info.get("version"))), f"/info version {info.get('version')!r} matches --version")

    st, h, body = server.request("GET", "/metrics")
    check(st == 200 and b"# TYPE inferd_requests_total counter" in body, f"GET /metrics: {st}")
    check((hdr(h, "Content-Type") or "").startswith("text/plain"), f"/metrics is text/plain ({hdr(h, 'Content-Type')})")

    for path in ("/health", "/ready", "/metrics", "/info", "/v2", f"/v2/models/{MODEL_NAME}"):
        st, h, body = server.request("POST", path, b"x", {"Content-Type": "image/jpeg"})
        check(st == 405 and hdr(h, "Allow") and is_json_error(body), f"POST {path}: 405 with Allow ({st}, {hdr(h, 'Allow')})")
    st, h, body = server.request("GET", f"/v2/models/{MODEL_NAME}/infer")
    check(st == 405 and hdr(h, "Allow") == "POST" and is_json_error(body), f"GET infer: 405 Allow: POST ({st} {hdr(h, 'Allow')})")
    st, _, body = server.request("GET", "/nope")
    check(st == 404 and is_json_error(body), f"unknown path: 404 JSON ({st} {body!r})")


def classify(server, data):
    st, _, body = server.request("POST", "/", data, {"Content-Type": "application/octet-stream"})
    obj = loads(body)
    return obj if st == 200 and isinstance(obj, dict) else None


def infer(server, payload, ctype="application/json"):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    st, h, data = server.request("POST", f"/v2/models/{MODEL_NAME}/infer", body, {"Content-Type": ctype})
    return st, h, data


def section_kserve(server, photos, wnid_index):
    names = list(photos)
    singles = {n: classify(server, photos[n]) for n in names}
    check(all(singles.values()), f"POST / classifies every photo: {singles}")
    want_idx = {n: wnid_index.get((singles[n] or {}).get("class_id")) for n in names}
    b64 = {n: base64.b64encode(photos[n]).decode() for n in names}

    # One image, classification extension.
    req = {"id": "req-1", "inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [b64["dog"]]}],
           "outputs": [{"name": "classification", "parameters": {"classification": 5}}]}
    st, _, data = infer(server, req)
    r = loads(data)
    check(st == 200 and isinstance(r, dict), f"infer, one image, classification 5: {st} {data[:200]!r}")
    if isinstance(r, dict):
        check(r.get("model_name") == MODEL_NAME and r.get("id") == "req-1", f"infer echoes model_name and id: {r.get('model_name')} {r.get('id')}")
        out = (r.get("outputs") or [{}])[0]
        check(out.get("name") == "classification" and out.get("datatype") == "BYTES" and out.get("shape") == [1, 5],
              f"classification output is BYTES [1,5]: {out.get('name')} {out.get('datatype')} {out.get('shape')}")
        entries = out.get("data") or []
        parsed = [e.split(":", 2) for e in entries]
        check(len(parsed) == 5 and all(len(p) == 3 for p in parsed), f"five 'logit:index:name' strings: {entries}")
        if len(parsed) == 5 and all(len(p) == 3 for p in parsed):
            check(int(parsed[0][1]) == want_idx["dog"],
                  f"classification top-1 index {parsed[0][1]} == class of POST / ({want_idx['dog']})")
            logits = [float(p[0]) for p in parsed]
            check(logits == sorted(logits, reverse=True), f"classification entries are sorted by logit: {logits}")
            check(parsed[0][2] == singles["dog"]["class_name"], f"the label is the class name: {parsed[0][2]}")

    # Several images, classification.
    req = {"inputs": [{"name": "image", "datatype": "BYTES", "shape": [len(names)], "data": [b64[n] for n in names]}],
           "outputs": [{"name": "classification", "parameters": {"classification": 5}}]}
    st, _, data = infer(server, req)
    r = loads(data)
    out = (r.get("outputs") or [{}])[0] if isinstance(r, dict) else {}
    check(st == 200 and out.get("shape") == [len(names), 5] and len(out.get("data") or []) == 5 * len(names),
          f"infer, {len(names)} images, classification 5: {st} shape {out.get('shape')}")
    if st == 200 and len(out.get("data") or []) == 5 * len(names):
        tops = [int(out["data"][5 * i].split(":", 2)[1]) for i in range(len(names))]
        check(tops == [want_idx[n] for n in names], f"per-image top-1 {tops} == POST / classes {[want_idx[n] for n in names]}")

    # Several images, raw logits (no outputs), nested [[b64]] rows with shape [N,1].
    for nested in (False, True):
        data_field = [[b64[n]] for n in names] if nested else [b64[n] for n in names]
        shape = [len(names), 1] if nested else [len(names)]
        req = {"inputs": [{"name": "image", "datatype": "BYTES", "shape": shape, "data": data_field}]}
        st, _, data = infer(server, req)
        r = loads(data)
        out = (r.get("outputs") or [{}])[0] if isinstance(r, dict) else {}
        label = "nested [[b64]]" if nested else "flat"
        check(st == 200 and out.get("datatype") == "FP32" and out.get("shape") == [len(names), 1000],
              f"infer logits ({label}): FP32 [{len(names)},1000] ({st} {out.get('datatype')} {out.get('shape')})")
        vals = out.get("data") or []
        if len(vals) == 1000 * len(names):
            argmax = [max(range(1000), key=lambda c, i=i: vals[1000 * i + c]) for i in range(len(names))]
            check(argmax == [want_idx[n] for n in names], f"logits argmax {argmax} == POST / classes ({label})")
        else:
            check(False, f"logits ({label}) has N*1000 values (got {len(vals)})")

    # Bad bodies.
    good_input = {"name": "image", "datatype": "BYTES", "shape": [1], "data": [b64["dog"]]}
    bad = [
        ("not JSON", b"{this is not json", 400),
        ("a JSON array", b"[1,2,3]", 400),
        ("no inputs", {"id": "x"}, 400),
        ("wrong datatype FP32", {"inputs": [dict(good_input, datatype="FP32")]}, 400),
        ("bad base64", {"inputs": [dict(good_input, data=["@@@not base64@@@"])]}, 400),
        ("truncated base64", {"inputs": [dict(good_input, data=[b64["dog"][:-3]])]}, 400),
        ("shape [2] for one image", {"inputs": [dict(good_input, shape=[2])]}, 400),
        ("shape missing", {"inputs": [{k: v for k, v in good_input.items() if k != "shape"}]}, 400),
        ("data is a number", {"inputs": [dict(good_input, data=[42])]}, 400),
        ("empty data", {"inputs": [dict(good_input, data=[], shape=[0])]}, 400),
        ("classification 0", {"inputs": [good_input], "outputs": [{"name": "c", "parameters": {"classification": 0}}]}, 400),
        ("classification 1001", {"inputs": [good_input], "outputs": [{"parameters": {"classification": 1001}}]}, 400),
        ("two inputs", {"inputs": [good_input, good_input]}, 400),
        ("base64 of a text file", {"inputs": [dict(good_input, data=[base64.b64encode(b"just text").decode()])]}, 415),
        ("base64 of a truncated JPEG", {"inputs": [dict(good_input, data=[base64.b64encode(photos["dog"][:500]).decode()])]}, 400),
    ]
    for name, payload, want in bad:
        st, _, data = infer(server, payload)
        check(st == want and is_json_error(data), f"infer with {name}: want {want} JSON error, got {st} {data[:120]!r}")
    st, _, data = infer(server, {"inputs": [good_input]}, ctype="text/plain")
    check(st == 415 and is_json_error(data), f"infer with Content-Type text/plain: 415 JSON ({st} {data[:100]!r})")
    check(server.request("GET", "/health")[0] == 200, "server healthy after the bad infer bodies")
    return singles


def section_topk(server, photos, singles):
    dog = photos["dog"]
    want_top = singles["dog"]

    def preds_of(st, body):
        obj = loads(body)
        return obj.get("predictions") if st == 200 and isinstance(obj, dict) else None

    ways = []
    for k in (1, 5, 1000):
        st, _, body = server.request("POST", f"/?topk={k}", dog, {"Content-Type": "image/jpeg"})
        ways.append((f"query topk={k}", k, st, body))
    body, ctype = multipart([("image", "dog.jpg", dog), ("topk", None, b"3")])
    st, _, data = server.request("POST", "/", body, {"Content-Type": ctype})
    ways.append(("form field topk=3", 3, st, data))
    body, ctype = multipart([("topk", None, b"4"), ("image", "dog.jpg", dog)])
    st, _, data = server.request("POST", "/", body, {"Content-Type": ctype})
    ways.append(("form field topk=4 before the image", 4, st, data))
    st, _, data = server.request("POST", "/", dog, {"Content-Type": "image/jpeg", "X-Topk": "7"})
    ways.append(("header X-Topk: 7", 7, st, data))
    for label, k, st, data in ways:
        preds = preds_of(st, data)
        check(preds is not None and len(preds) == k, f"{label}: {k} predictions (got {st}, {None if preds is None else len(preds)})")
        if preds:
            probs = [p.get("probability") for p in preds]
            check(all(isinstance(p, (int, float)) for p in probs) and probs == sorted(probs, reverse=True)
                  and 0 < sum(probs) <= 1.0001, f"{label}: probabilities sorted, in (0,1]")
            check(preds[0].get("class_id") == want_top["class_id"], f"{label}: top prediction is the class")
            obj = loads(data)
            check(obj.get("class_id") == want_top["class_id"], f"{label}: class_id unchanged")
    st, _, data = server.request("POST", "/", dog, {"Content-Type": "image/jpeg"})
    check(st == 200 and "predictions" not in (loads(data) or {}), "no topk: no predictions key (the original answer)")

    for bad in ("0", "1001", "abc", "-1", "", "5x", "99999999999999999999"):
        st, _, data = server.request("POST", f"/?topk={bad}", dog, {"Content-Type": "image/jpeg"})
        check(st == 400 and is_json_error(data), f"query topk={bad!r}: 400 JSON ({st})")
    for bad in ("0", "abc", "1001"):
        st, _, data = server.request("POST", "/", dog, {"Content-Type": "image/jpeg", "X-Topk": bad})
        check(st == 400 and is_json_error(data), f"X-Topk: {bad}: 400 JSON ({st})")
        body, ctype = multipart([("image", "dog.jpg", dog), ("topk", None, bad.encode())])
        st, _, data = server.request("POST", "/", body, {"Content-Type": ctype})
        check(st == 400 and is_json_error(data), f"form field topk={bad}: 400 JSON ({st} {data[:80]!r})")


def section_multi(server, photos, singles):
    giraffe_png = io.BytesIO()
    Image.open(io.BytesIO(photos["giraffe"])).save(giraffe_png, "PNG")
    giraffe_png = giraffe_png.getvalue()
    png_single = classify(server, giraffe_png)
    parts = [("image", "dog.jpg", photos["dog"]), ("image", "notes.txt", b"a text file, not an image"),
             ("image", "lion.jpg", photos["lion"]), ("image", "giraffe.png", giraffe_png),
             ("image", "cut.jpg", photos["monkey"][: len(photos["monkey"]) // 2])]
    body, ctype = multipart(parts)
    st, _, data = server.request("POST", "/", body, {"Content-Type": ctype})
    arr = loads(data)
    check(st == 200 and isinstance(arr, list) and len(arr) == 5, f"five image parts: a list of five ({st} {data[:200]!r})")
    if isinstance(arr, list) and len(arr) == 5:
        check(arr[0] == singles["dog"], f"entry 0 is dog's answer: {arr[0]}")
        check(arr[1].get("status") == 415 and is_json_error(json.dumps(arr[1])), f"entry 1 (text) is a 415 error: {arr[1]}")
        check(arr[2] == singles["lion"], f"entry 2 is lion's answer: {arr[2]}")
        check(arr[3] == png_single, f"entry 3 is the giraffe PNG's answer: {arr[3]} vs {png_single}")
        check(arr[4].get("status") == 400 and "error" in arr[4], f"entry 4 (truncated JPEG) is a 400 error: {arr[4]}")
    body, ctype = multipart([("images", "a.jpg", photos["monkey"]), ("images", "b.jpg", photos["dog"])])
    st, _, data = server.request("POST", "/?topk=2", body, {"Content-Type": ctype})
    arr = loads(data)
    check(st == 200 and isinstance(arr, list) and len(arr) == 2 and all(len(e.get("predictions", [])) == 2 for e in arr),
          f"field 'images' x2 with topk=2: {st} {data[:160]!r}")
    if isinstance(arr, list) and len(arr) == 2:
        check([e.get("class_id") for e in arr] == [singles["monkey"]["class_id"], singles["dog"]["class_id"]],
              "the 'images' answers are in order")


def section_request_id_and_accept(server):
    st, h, _ = server.request("GET", "/health", headers={"X-Request-Id": "client-id-42"})
    check(hdr(h, "X-Request-Id") == "client-id-42", f"X-Request-Id echoed ({hdr(h, 'X-Request-Id')})")
    st, h, _ = server.request("GET", "/nope", headers={"X-Request-Id": "client-id-43"})
    check(hdr(h, "X-Request-Id") == "client-id-43", "X-Request-Id echoed on a 404 too")
    ids = [hdr(server.request("GET", "/health")[1], "X-Request-Id") for _ in range(3)]
    check(all(ids) and len(set(ids)) == 3, f"X-Request-Id generated when absent, unique: {ids}")
    for bad in ("has space", "x" * 200):
        st, h, _ = server.request("GET", "/health", headers={"X-Request-Id": bad})
        rid = hdr(h, "X-Request-Id")
        check(rid and rid != bad and " " not in rid and len(rid) < 64, f"unsafe X-Request-Id {bad[:20]!r} replaced: {rid!r}")

    st, h, body = server.request("GET", "/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    check(st == 200 and (hdr(h, "Content-Type") or "").startswith("text/html") and b"<html" in body.lower(),
          f"GET / with Accept: text/html gives the HTML page ({st} {hdr(h, 'Content-Type')})")
    out = subprocess.run(["curl", "-s", "-D", "-", f"http://127.0.0.1:{server.port}/"], capture_output=True, timeout=30)
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    check(body == b'{"message":"no input image"}', f"curl's default Accept: exactly the original message ({body!r})")
    check(b"content-type: application/json" in head.lower(), "curl GET / is application/json")
    st, _, body = server.request("GET", "/", headers={"Accept": "application/json"})
    check(st == 200 and body == b'{"message":"no input image"}', f"Accept: application/json: the message ({body!r})")


ALL_KEYS = ["addr", "port", "model", "class_index", "threads", "model_instances", "http_threads", "precision",
            "optimize", "warmup", "max_batch", "batch_delay_us", "queue_capacity", "request_timeout_ms", "resize",
            "crop", "mean", "std", "max_body_bytes", "max_pixels", "max_images", "max_connections",
            "connection_timeout_s", "drain_timeout_s", "log_format", "access_log"]


def run_cli(binary, args, env_extra=None, cwd=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("INFERD_")}
    env.update(env_extra or {})
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, env=env, cwd=cwd)


def section_cli(binary):
    tmp = tempfile.mkdtemp(prefix="inferd-api-")
    try:
        r = run_cli(binary, ["--help"], cwd=tmp)
        check(r.returncode == 0, f"--help exits 0 ({r.returncode})")
        for key in ALL_KEYS:
            flag, env = "--" + key.replace("_", "-"), "INFERD_" + key.upper()
            check(flag in r.stdout and env in r.stdout, f"--help lists {flag} and {env}")
        r = run_cli(binary, ["--version"], cwd=tmp)
        check(r.returncode == 0 and re.fullmatch(r"inferd \d+\.\d+\.\d+\S*\n", r.stdout),
              f"--version prints 'inferd X.Y.Z' ({r.returncode} {r.stdout!r})")
        version = r.stdout.strip()

        r = run_cli(binary, ["--check-config"], cwd=tmp)
        cfg = loads(r.stdout)
        check(r.returncode == 0 and isinstance(cfg, dict) and cfg.get("port") == 5000 and cfg.get("max_batch") == 2,
              f"--check-config with nothing set prints the defaults ({r.returncode} {r.stdout[:100]!r})")
        if isinstance(cfg, dict):
            check(sorted(ALL_KEYS) == sorted(k for k in cfg if k in ALL_KEYS), "--check-config prints every documented key")

        bad = [
            (["--port", "70000"], {}, "port"),
            (["--max-batch", "abc"], {}, "max_batch"),
            (["--precision", "fp64"], {}, "precision"),
            (["--log-format", "xml"], {}, "log_format"),
            (["--optimize", "maybe"], {}, "optimize"),
            (["--mean", "1,2"], {}, "mean"),
            ([], {"INFERD_QUEUE_CAPACITY": "0"}, "queue_capacity"),
            ([], {"INFERD_MAX_PIXELS": "lots"}, "max_pixels"),
        ]
        for args, env, key in bad:
            r = run_cli(binary, ["--check-config", *args], env, cwd=tmp)
            check(r.returncode != 0 and key in r.stderr, f"--check-config {args} {env}: non-zero and names {key} "
                  f"({r.returncode} {r.stderr.strip()!r})")
        with open(os.path.join(tmp, "bad.json"), "w") as f:
            json.dump({"port": 5001, "no_such_key": 1}, f)
        r = run_cli(binary, ["--check-config", "--config", os.path.join(tmp, "bad.json")], cwd=tmp)
        check(r.returncode != 0 and "no_such_key" in r.stderr, f"a config file with an unknown key names it ({r.stderr.strip()!r})")
        with open(os.path.join(tmp, "bad2.json"), "w") as f:
            json.dump({"max_images": "many"}, f)
        r = run_cli(binary, ["--check-config", "--config", os.path.join(tmp, "bad2.json")], cwd=tmp)
        check(r.returncode != 0 and "max_images" in r.stderr, f"a config value of the wrong type names its key ({r.stderr.strip()!r})")
        r = run_cli(binary, ["--check-config", "--no-such-flag", "1"], cwd=tmp)
        check(r.returncode != 0 and "no-such-flag" in r.stderr, f"an unknown flag is an error naming it ({r.stderr.strip()!r})")

        # Precedence: flag > environment > file > default.
        conf = os.path.join(tmp, "prec.json")
        with open(conf, "w") as f:
            json.dump({"port": 1111, "max_batch": 3, "queue_capacity": 11, "http_threads": 3}, f)
        r = run_cli(binary, ["--check-config", "--config", conf, "--port", "3333"],
                    {"INFERD_PORT": "2222", "INFERD_MAX_BATCH": "5"}, cwd=tmp)
        cfg = loads(r.stdout) or {}
        check(r.returncode == 0, f"precedence run exits 0 ({r.returncode} {r.stderr.strip()!r})")
        check(cfg.get("port") == 3333, f"flag beats env and file: port {cfg.get('port')}")
        check(cfg.get("max_batch") == 5, f"env beats file: max_batch {cfg.get('max_batch')}")
        check(cfg.get("queue_capacity") == 11, f"file beats default: queue_capacity {cfg.get('queue_capacity')}")
        check(cfg.get("request_timeout_ms") == 0, f"default when unset: request_timeout_ms {cfg.get('request_timeout_ms')}")
        r = run_cli(binary, ["--check-config", "--http-threads=7"], {"INFERD_CONFIG": conf, "INFERD_HTTP_THREADS": "6"}, cwd=tmp)
        cfg = loads(r.stdout) or {}
        check(cfg.get("port") == 1111 and cfg.get("http_threads") == 7,
              f"INFERD_CONFIG picks the file, --key=value form works: port {cfg.get('port')}, http_threads {cfg.get('http_threads')}")
        # ./config.json is read when present (the original {"addr","port"} form).
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump({"addr": "127.0.0.1", "port": 5055}, f)
        r = run_cli(binary, ["--check-config"], cwd=tmp)
        cfg = loads(r.stdout) or {}
        check(cfg.get("port") == 5055 and cfg.get("addr") == "127.0.0.1", f"./config.json is read: {cfg.get('addr')}:{cfg.get('port')}")
        return version
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ensure_promtool():
    path = shutil.which("promtool")
    if path:
        return path, ""
    note = ""
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "prometheus"], capture_output=True,
                           text=True, timeout=900, env=env)
        note = (r.stdout + r.stderr)[-600:]
    except (OSError, subprocess.TimeoutExpired) as e:
        note = repr(e)
    return shutil.which("promtool"), note


def parse_metrics(text):
    """{(name, frozenset(labels)): value} of the exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$', line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def metric(metrics, name, **labels):
    want = set(labels.items())
    vals = [v for (n, ls), v in metrics.items() if n == name and want <= set(ls)]
    return vals[0] if vals else None


def section_metrics(server):
    st, _, body = server.request("GET", "/metrics")
    text = body.decode()
    promtool, note = ensure_promtool()
    if check(promtool is not None, "promtool is available (apt-get install prometheus); " + (note or "")):
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, f"promtool check metrics accepts /metrics ({r.returncode}: {(r.stdout + r.stderr).strip()[:600]})")
    m = parse_metrics(text)
    v = metric(m, "inferd_requests_total", route="/", code="200")
    check(v is not None and v > 0, f'inferd_requests_total{{route="/",code="200"}} > 0 ({v})')
    v = metric(m, "inferd_requests_total", route="/", code="400")
    check(v is not None and v > 0, f'inferd_requests_total{{route="/",code="400"}} > 0 after bad requests ({v})')
    v = metric(m, "inferd_requests_total", route="/v2/models/infer", code="200")
    check(v is not None and v > 0, f'inferd_requests_total for the infer route, 200 > 0 ({v})')
    for name in ("inferd_batch_size_count", "inferd_model_forward_seconds_count", "inferd_preprocess_duration_seconds_count",
                 "inferd_request_duration_seconds_count", "inferd_queue_wait_seconds_count"):
        v = metric(m, name)
        check(v is not None and v > 0, f"{name} > 0 ({v})")
    v = metric(m, "inferd_model_info", weights="seeded")
    check(v == 1, f'inferd_model_info{{weights="seeded"}} 1 ({v})')
    v = metric(m, "process_resident_memory_bytes")
    check(v is not None and v > 0, f"process_resident_memory_bytes > 0 ({v})")
    v = metric(m, "inferd_images_total", result="ok")
    check(v is not None and v > 0, f'inferd_images_total{{result="ok"}} > 0 ({v})')
    check(metric(m, "inferd_ready") == 1, "inferd_ready 1")
    # Histograms: cumulative buckets, +Inf equals _count.
    for name in ("inferd_request_duration_seconds", "inferd_batch_size", "inferd_model_forward_seconds"):
        buckets = sorted(((float("inf") if dict(ls)["le"] == "+Inf" else float(dict(ls)["le"])), v)
                         for (n, ls), v in m.items() if n == name + "_bucket")
        counts = [c for _, c in buckets]
        check(buckets and counts == sorted(counts) and counts[-1] == metric(m, name + "_count"),
              f"{name}: buckets cumulative and +Inf == _count")
    # Counters move with traffic.
    before = metric(m, "inferd_requests_total", route="/health", code="200") or 0
    for _ in range(3):
        server.request("GET", "/health")
    m2 = parse_metrics(server.request("GET", "/metrics")[2].decode())
    after = metric(m2, "inferd_requests_total", route="/health", code="200") or 0
    check(after == before + 3, f"three GET /health move the counter by 3 ({before} -> {after})")


def access_lines(server, rid):
    return [ln for ln in server.log_lines if rid in ln and ("access" in ln)]


def section_access_log(server, photos):
    tag = "acc%d" % int(time.time() * 1000)
    reqs = [
        (f"{tag}-a", "GET", "/health", None, {}, 200),
        (f"{tag}-b", "POST", "/", photos["dog"], {"Content-Type": "image/jpeg"}, 200),
        (f"{tag}-c", "GET", "/nope", None, {}, 404),
        (f"{tag}-d", "POST", "/", b"text", {"Content-Type": "image/jpeg"}, 415),
        (f"{tag}-e", "POST", "/health", b"", {}, 405),
    ]
    for rid, method, path, body, headers, want in reqs:
        st, _, _ = server.request(method, path, body, dict(headers, **{"X-Request-Id": rid}))
        check(st == want, f"access-log request {rid}: {method} {path} -> {want} (got {st})")
    time.sleep(0.3)
    for rid, method, path, body, headers, want in reqs:
        lines = access_lines(server, rid)
        check(len(lines) == 1, f"exactly one access line for {rid} (got {len(lines)})")
        if lines:
            check(re.search(r"\b%d\b" % want, lines[0]) and method in lines[0] and path in lines[0],
                  f"access line for {rid} has method, path and status {want}: {lines[0].strip()}")
    n_before = sum(1 for ln in server.log_lines if " access " in ln)
    for _ in range(5):
        server.request("GET", "/v2/health/live")
    time.sleep(0.3)
    n_after = sum(1 for ln in server.log_lines if " access " in ln)
    check(n_after - n_before == 5, f"one access line per request (5 requests -> {n_after - n_before} lines)")
    # Client text in the path cannot forge log lines.
    server.request("GET", "/x%0a2026-01-01T00:00:00.000Z%20info%20forged", headers={"X-Request-Id": f"{tag}-f"})
    time.sleep(0.2)
    check(not any("info forged" in ln and " access " not in ln for ln in server.log_lines),
          "an encoded newline in the path does not start a forged log line")


def section_json_log(args, photos):
    server = Server(args.binary, args.model, args.class_index,
                    extra_args=["--log-format", "json", "--http-threads", "2", "--warmup", "1"], ready_timeout=300)
    try:
        rid = "json-log-%d" % int(time.time())
        st, _, _ = server.request("POST", "/", photos["dog"], {"Content-Type": "image/jpeg", "X-Request-Id": rid})
        check(st == 200, f"json-log server classifies ({st})")
        server.request("GET", '/we"ird\\path', headers={"X-Request-Id": rid + "-w"})
        time.sleep(0.3)
    finally:
        rc = server.stop()
    check(rc == 0, f"json-log server exits 0 ({rc})")
    lines = [ln for ln in server.log_lines if ln.strip()]
    objs = [loads(ln) for ln in lines]
    bad = [ln for ln, o in zip(lines, objs) if not isinstance(o, dict)]
    check(lines and not bad, f"--log-format json: every stderr line is a JSON object ({len(bad)} of {len(lines)} not: {bad[:3]})")
    objs = [o for o in objs if isinstance(o, dict)]
    check(all("time" in o and "level" in o for o in objs), "every JSON log line has time and level")
    acc = [o for o in objs if o.get("level") == "access" and o.get("request_id") == rid]
    check(len(acc) == 1 and acc[0].get("status") == 200 and acc[0].get("method") == "POST" and acc[0].get("path") == "/"
          and acc[0].get("images") == 1, f"JSON access line for the request: {acc}")
    weird = [o for o in objs if o.get("level") == "access" and o.get("request_id") == rid + "-w"]
    check(len(weird) == 1 and weird[0].get("status") == 404, f"a path with quote and backslash still logs valid JSON: {weird}")
    check(any("listening on" in (o.get("message") or "") for o in objs), "start-up messages are JSON lines too")


def section_int8(args, photos, singles):
    server = Server(args.binary, args.model_int8, args.class_index,
                    extra_args=["--precision", "int8", "--http-threads", "2", "--warmup", "1"], ready_timeout=300)
    try:
        st, _, body = server.request("GET", "/info")
        model = (loads(body) or {}).get("model") or {}
        check(st == 200 and model.get("precision") == "int8", f"int8 server: /info model.precision int8 ({model})")
        m = parse_metrics(server.request("GET", "/metrics")[2].decode())
        v = metric(m, "inferd_model_info", precision="int8")
        check(v == 1, f'int8 server: inferd_model_info{{precision="int8"}} 1 ({v})')
        st, _, body = server.request("GET", "/v2/models/densenet121")
        params = (loads(body) or {}).get("parameters") or {}
        check(params.get("precision") == "int8", f"int8 server: /v2 model metadata precision int8 ({params})")
        log = "".join(server.log_lines)
        check(re.search(r"precision int8 \(quantized engine \w+\)", log) is not None,
              "int8 server: start-up log names the precision and the quantized engine")
        for name, data in photos.items():
            got = classify(server, data)
            want = singles.get(name)
            check(got is not None and want is not None and got.get("class_id") == want.get("class_id"),
                  f"int8 server: {name} gets fp32's class ({got} vs {want})")
    finally:
        rc = server.stop()
    check(rc == 0, f"int8 server exits 0 ({rc})")
    r = subprocess.run([args.binary, "--port", "0", "--model", args.model_int8, "--class-index", args.class_index,
                        "--precision", "fp32"], capture_output=True, text=True, timeout=120)
    check(r.returncode != 0 and "precision int8" in r.stderr,
          f"an int8 file under precision fp32 is refused with a message saying so ({r.returncode}: "
          f"{r.stderr.strip()[-300:]})")


def main():
    ap = server_test_parser(__doc__)
    ap.add_argument("--model-name", default=None, help="start the server with this model_name and expect it")
    ap.add_argument("--model-int8", default=None, help="an int8 export of --model (checks the int8 server)")
    args = ap.parse_args()
    global MODEL_NAME
    name_args = []
    if args.model_name:
        MODEL_NAME = args.model_name
        name_args = ["--model-name", args.model_name]
    args.model = find_model(args.model)
    with open(args.class_index) as f:
        class_index = json.load(f)
    wnid_index = {v[0]: int(k) for k, v in class_index.items()}
    photos = {}
    for name in ("dog", "lion", "giraffe", "monkey"):
        with open(os.path.join(args.shared_dir, name + ".jpg"), "rb") as f:
            photos[name] = f.read()

    server = None
    try:
        version = section_cli(args.binary)
        server = Server(args.binary, args.model, args.class_index,
                        extra_args=["--http-threads", "2", "--warmup", "1", *name_args], ready_timeout=300)
        section_endpoints(server, version or "")
        singles = section_kserve(server, photos, wnid_index)
        if all(singles.values()):
            section_topk(server, photos, singles)
            section_multi(server, photos, singles)
        section_request_id_and_accept(server)
        section_access_log(server, photos)
        section_metrics(server)
        rc = server.stop()
        check(rc == 0, f"SIGTERM exits 0 ({rc})")
        section_json_log(args, photos)
        if args.model_int8:
            section_int8(args, photos, singles)
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        check(False, f"unexpected exception: {e!r}")
    finally:
        if server is not None:
            server.kill()
            if results.failed:
                print("".join([ln for ln in server.log_lines if " access " not in ln][-30:]))
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
