#!/usr/bin/env python3
"""Runs inferd (built with the stub model, so that every line executed is
inferd's own or its C libraries') under valgrind memcheck, sends it the
integration traffic — good images of every format, several images at once,
KServe infer, metrics, the page, and the bad requests — then SIGTERM, and
requires valgrind to report no invalid access and no definite leak.

    /usr/bin/python3 tests/valgrind_test.py --binary build/inferd_stub
"""
import argparse
import base64
import glob
import json
import os
import shutil
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))
import make_test_images  # noqa: E402
from server import Server, multipart  # noqa: E402
from checks import check, results  # noqa: E402





def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--class-index", default=os.path.join(ROOT, "imagenet_class_index.json"))
    ap.add_argument("--shared-dir", default=os.path.join(ROOT, "..", "shared", "data"))
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        print("valgrind is not installed (scripts/install-deps.sh test installs it)")
        print("0 passed, 1 failed")
        return 1

    tmp = tempfile.mkdtemp(prefix="inferd-vg-")
    manifest = make_test_images.generate(tmp, args.shared_dir, include_invalid=True)
    valid = {entry["file"]: entry["expected_valid"] for entry in manifest}
    images = sorted(p for p in glob.glob(os.path.join(tmp, "*")) if os.path.getsize(p) < 2 << 20)
    vg_log = os.path.join(tmp, "valgrind.log")
    wrapper = os.path.join(tmp, "inferd-under-valgrind")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "
                f"--show-leak-kinds=definite --track-fds=no --log-file={vg_log} {os.path.abspath(args.binary)} \"$@\"\n")
    os.chmod(wrapper, 0o755)

    server = Server(wrapper, "stub-model", args.class_index,
                    extra_args=["--http-threads", "2", "--warmup", "1", "--connection-timeout-s", "10",
                                "--model-name", "densenet121"],
                    ready_timeout=300)
    try:
        for path in images:
            status, _, body = server.request("POST", "/", *multipart([("image", os.path.basename(path),
                                                                        open(path, "rb").read())])[:1],
                                             headers={"Content-Type": multipart([])[1]})
            name = os.path.basename(path)
            if not valid.get(name, not name.startswith("invalid_")):
                check(status is not None and 400 <= status < 500, f"{name}: 4xx ({status})")
            else:
                check(status == 200 and b"class_id" in body, f"{name}: 200 ({status})")
        data = open(images[0], "rb").read()
        body, ctype = multipart([("image", "a", data), ("image", "b", b"nope"), ("topk", None, b"3")])
        status, _, got = server.json("POST", "/", body, {"Content-Type": ctype})
        check(status == 200 and isinstance(got, list) and len(got) == 2, f"two images: {status}")
        infer = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                             "data": [base64.b64encode(data).decode()]}],
                 "outputs": [{"name": "classification", "parameters": {"classification": 2}}]}
        status, _, got = server.json("POST", "/v2/models/densenet121/infer", json.dumps(infer).encode(),
                                     {"Content-Type": "application/json"})
        check(status == 200 and "outputs" in got, f"v2 infer: {status}")
        # The binary tensor data extension: two images as BYTES elements, an
        # FP32 tensor, binary logits and classification strings out.
        tensor = struct.pack("<%df" % (3 * 224 * 224), *([0.25] * (3 * 224 * 224)))
        elements = b"".join(struct.pack("<I", len(d)) + d for d in (data, data))
        head = json.dumps({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [2],
                                       "parameters": {"binary_data_size": len(elements)}},
                                      {"name": "tensor", "datatype": "FP32", "shape": [1, 3, 224, 224],
                                       "parameters": {"binary_data_size": len(tensor)}}],
                           "outputs": [{"name": "logits", "parameters": {"binary_data": True}},
                                       {"name": "c", "parameters": {"classification": 2, "binary_data": True}}]}).encode()
        status, headers, got = server.request("POST", "/v2/models/densenet121/infer", head + elements + tensor,
                                              {"Inference-Header-Content-Length": str(len(head))})
        check(status == 200 and any(k.lower() == "inference-header-content-length" for k in headers),
              f"v2 binary infer: {status}")
        status, _, _ = server.request("POST", "/v2/models/densenet121/infer", head + elements[:-3] + tensor,
                                      {"Inference-Header-Content-Length": str(len(head))})
        check(status == 400, f"v2 binary infer with sizes that do not add up: 400 ({status})")
        for path in ("/v2/models/densenet121/stats", "/v2/models/densenet121/config", "/v2"):
            status, _, _ = server.request("GET", path)
            check(status == 200, f"GET {path}: 200 ({status})")
        for method, path, body, headers, want in [
            ("GET", "/", None, {}, 200), ("GET", "/", None, {"Accept": "text/html"}, 200),
            ("GET", "/metrics", None, {}, 200), ("GET", "/info", None, {}, 200), ("GET", "/nope", None, {}, 404),
            ("PUT", "/", b"x", {"Content-Type": "image/png"}, 405), ("POST", "/", b"", {"Content-Type": "image/png"}, 400),
            ("POST", "/?topk=abc", data, {"Content-Type": "image/png"}, 400),
            ("POST", "/v2/models/densenet121/infer", b"{not json", {"Content-Type": "application/json"}, 400),
        ]:
            status, _, _ = server.request(method, path, body, headers)
            check(status == want, f"{method} {path}: {want} ({status})")
    finally:
        rc = server.stop(timeout=120)
    check(rc == 0, f"server under valgrind exits 0 after SIGTERM (rc {rc}; 99 = valgrind found errors)")
    report = open(vg_log).read() if os.path.exists(vg_log) else ""
    summary = [l for l in report.splitlines() if "ERROR SUMMARY" in l or "definitely lost" in l]
    print("\n".join(summary))
    check("ERROR SUMMARY: 0 errors" in report, "valgrind: 0 errors")
    if results.failed:
        print(report[-6000:])
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
