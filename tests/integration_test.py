#!/usr/bin/env python3
"""End-to-end test of the real server: starts build/inferd on a free loopback
port with the given model, sends images the way clients do (curl -F,
multipart, raw bodies), compares every answer with the Python reference
(PIL + torchvision + the same TorchScript file), sends the bad requests
a server must survive, and checks it still answers and shuts down cleanly.

    /usr/bin/python3 tests/integration_test.py --binary build/inferd --model models/densenet121.pt
"""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))

import reference  # noqa: E402
import make_test_images  # noqa: E402
from server import Server, multipart, raw_http  # noqa: E402
from checks import check, results  # noqa: E402





def expected_answer(model, class_index, path):
    try:
        tensor = reference.preprocess(path)
    except Exception:
        return None
    logits = reference.forward(model, tensor)
    idx = int(logits.argmax())
    wnid, name = class_index[str(idx)]
    return {"class_id": wnid, "class_name": name}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--class-index", default=os.path.join(ROOT, "imagenet_class_index.json"))
    ap.add_argument("--shared-dir", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--valgrind", action="store_true", help="run the server under valgrind memcheck")
    args = ap.parse_args()

    class_index = json.load(open(args.class_index))
    model = reference.load_model(args.model)
    tmp = tempfile.mkdtemp(prefix="inferd-it-")
    make_test_images.generate(tmp, args.shared_dir, include_invalid=False)
    images = sorted(glob.glob(os.path.join(tmp, "*")))
    images = [p for p in images if os.path.getsize(p) < 8 << 20]
    photos = sorted(glob.glob(os.path.join(args.shared_dir, "*.jpg")))

    server = Server(args.binary, args.model, args.class_index,
                    extra_args=["--http-threads", "2", "--max-body-bytes", str(20 << 20)])
    try:
        # The original API, unchanged.
        status, hdrs, body = server.request("GET", "/")
        check(status == 200 and body == b'{"message":"no input image"}', f"GET / answers the original message: {status} {body!r}")
        check(hdrs.get("Content-Type") == "application/json", "GET / is application/json")

        # Every photo and generated image through curl -F, as users do.
        for path in photos + images:
            want = expected_answer(model, class_index, path)
            out = subprocess.run(["curl", "-s", "-H", "Expect: 100-continue", "-w", "\n%{http_code}",
                                  "-F", f"image=@{path}", f"http://127.0.0.1:{server.port}/"],
                                 capture_output=True, text=True, timeout=60)
            text, _, code = out.stdout.rpartition("\n")
            name = os.path.basename(path)
            if want is None:
                check(code.startswith("4"), f"{name}: PIL rejects it, inferd answers 4xx (got {code})")
                continue
            try:
                got = json.loads(text)
            except ValueError:
                got = text
            check(code == "200" and got == want, f"{name}: curl -F answer {got} == reference {want} (HTTP {code})")

        # Raw bodies.
        dog = os.path.join(args.shared_dir, "dog.jpg")
        if os.path.exists(dog):
            data = open(dog, "rb").read()
            want = expected_answer(model, class_index, dog)
            for ctype in ("image/jpeg", "application/octet-stream"):
                status, _, got = server.json("POST", "/", data, {"Content-Type": ctype})
                check(status == 200 and got == want, f"raw {ctype} body: {status} {got}")
            # Several images in one request: one result each, in order.
            png = next(p for p in images if p.endswith(".png"))
            body, ctype = multipart([("image", "a.jpg", data), ("image", "b.txt", b"not an image"),
                                     ("image", "c.png", open(png, "rb").read())])
            status, _, got = server.json("POST", "/", body, {"Content-Type": ctype})
            check(status == 200 and isinstance(got, list) and len(got) == 3, f"three images -> three entries: {got}")
            if isinstance(got, list) and len(got) == 3:
                check(got[0] == want, "first of three is the dog's answer")
                check(got[1].get("status") == 415 and "error" in got[1], f"bad middle image gets its own error: {got[1]}")
                check(got[2] == expected_answer(model, class_index, png), "third of three matches the reference")
            # top-k
            status, _, got = server.json("POST", "/?topk=5", data, {"Content-Type": "image/jpeg"})
            preds = got.get("predictions", []) if isinstance(got, dict) else []
            check(status == 200 and len(preds) == 5, f"topk=5 gives five predictions: {status}")
            check(all(preds[i]["probability"] >= preds[i + 1]["probability"] for i in range(len(preds) - 1)),
                  "predictions are sorted by probability")
            if preds:
                check(preds[0]["class_id"] == got["class_id"], "top prediction equals class_id")
                ref_logits = reference.forward(model, reference.preprocess(dog))
                ref_top5 = [class_index[str(i)][0] for i in reference.topk(ref_logits, 5)]
                check([p["class_id"] for p in preds] == ref_top5, "top-5 equals the reference's top-5")
            for bad in ("0", "1001", "abc", "-1", ""):
                status, _, got = server.json("POST", f"/?topk={bad}", data, {"Content-Type": "image/jpeg"})
                check(status == 400 and "error" in got, f"topk={bad!r} -> 400 ({status})")

        # Bad requests: right status, JSON error, server survives.
        no_field, no_field_type = multipart([("other", None, b"x")])
        text_jpg, text_jpg_type = multipart([("image", "x.jpg", b"hello world, not a jpeg")])
        cases = [
            ("no image field", "POST", "/", no_field, {"Content-Type": no_field_type}, 400),
            ("text named .jpg", "POST", "/", text_jpg, {"Content-Type": text_jpg_type}, 415),
            ("html body", "POST", "/", b"<html><body>hi</body></html>", {"Content-Type": "image/jpeg"}, 415),
            ("jpeg magic then garbage", "POST", "/", b"\xff\xd8\xff" + b"\x00" * 500, {"Content-Type": "image/jpeg"}, 400),
            ("empty raw body", "POST", "/", b"", {"Content-Type": "image/jpeg"}, 400),
            ("unsupported content type", "POST", "/", b"abc", {"Content-Type": "text/plain"}, 415),
            ("unknown path", "GET", "/nope", None, {}, 404),
            ("wrong method", "PUT", "/", b"x", {"Content-Type": "image/jpeg"}, 405),
            ("delete", "DELETE", "/", None, {}, 405),
            ("broken boundary", "POST", "/", b"--zzz\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nabc",
             {"Content-Type": "multipart/form-data; boundary=other"}, 400),
            ("too large by Content-Length", "POST", "/", b"x" * 100, {"Content-Type": "image/jpeg", "Content-Length": str(30 << 20)}, 413),
        ]
        for name, method, path, body, headers, want in cases:
            if name == "too large by Content-Length":
                # http.client would send the real length; speak raw HTTP.
                resp = raw_http(server.port, f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: {30 << 20}\r\n\r\n".encode())
                check(resp.startswith(b"HTTP/1.1 413") and b'"error"' in resp, f"{name}: {resp[:60]!r}")
                continue
            status, hdrs, got = server.json(method, path, body, headers)
            check(status == want and isinstance(got, dict) and "error" in got, f"{name}: want {want}, got {status} {got!r:.120}")
            if want == 405:
                check("Allow" in hdrs, f"{name}: 405 carries Allow")
        status, _, got = server.json("GET", "/")
        check(status == 200, "server still answers after the bad requests")
        status, _, got = server.json("GET", "/health")
        check(status == 200 and got == {"status": "ok"}, f"/health: {status} {got}")
        status, _, got = server.json("GET", "/ready")
        check(status == 200, f"/ready: {status} {got}")
    finally:
        rc = server.stop()
        check(rc == 0, f"SIGTERM exits 0 (got {rc})")
        if results.failed:
            print(server.log()[-4000:])

    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
