#!/usr/bin/env python3
"""The model-control endpoint of the real server (issue 15): off by default
(403 on /v2/repository/...); with model_control explicit and a token:
401 without Authorization, 403 with a wrong token, the index lists the
model, POST load reloads the configured files (a path in the request is not
a thing: only the route's model name), a second load while one runs is 409
(the first one started by SIGHUP), a failed load (corrupt file) answers 400
and keeps the model; with admin_addr the routes move to their own loopback
listener and the public one answers 404 for them.

    /usr/bin/python3 tests/model_control_test.py --binary build/inferd --model M --class-index C
"""

import os
import shutil
import signal
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(HERE, "lib"))

from checks import check, results, server_test_parser, find_model, loads, hdr  # noqa: E402
from server import Server  # noqa: E402

TOKEN = "t0ken-for-the-test"


def post(server, path, token=None, port=None):
    headers = {"Authorization": "Bearer " + token} if token is not None else {}
    if port is not None:
        saved, server.port = server.port, port
    try:
        return server.request("POST", path, b"", headers)
    finally:
        if port is not None:
            server.port = saved


def main():
    ap = server_test_parser(__doc__.split("\n\n")[0])
    args = ap.parse_args()
    model = find_model(args.model)
    with tempfile.TemporaryDirectory(prefix="inferd-control-") as d:
        empty = os.path.join(d, "empty.json")
        with open(empty, "w") as f:
            f.write("{}")
        served = os.path.join(d, "served.pt")
        shutil.copyfile(model, served)
        base = ["--config", empty, "--access-log", "false"]

        # Off by default.
        server = Server(args.binary, served, args.class_index, base)
        try:
            status, _, info = server.json("GET", "/info")
            name = info["model"]["name"]
            for path in ("/v2/repository/index", "/v2/repository/models/%s/load" % name):
                status, _, data = post(server, path)
                check(status == 403 and b"disabled" in data, "default: POST %s -> %s %s" % (path, status, data[:120]))
            status, _, data = post(server, "/v2/repository/models/%s/load" % name, TOKEN)
            check(status == 403, "default: even with a bearer token -> %s" % status)
        finally:
            check(server.stop() == 0, "default server exits 0")

        # Explicit, with a token (from a file).
        token_file = os.path.join(d, "token")
        with open(token_file, "w") as f:
            f.write(TOKEN + "\n")
        server = Server(args.binary, served, args.class_index,
                        base + ["--model-control", "explicit", "--admin-token-file", token_file])
        try:
            load = "/v2/repository/models/%s/load" % name
            status, headers, data = post(server, load)
            check(status == 401 and (hdr(headers, "WWW-Authenticate") or "").startswith("Bearer"),
                  "no token -> 401 with WWW-Authenticate: %s %s" % (status, headers))
            status, _, _ = post(server, load, "wrong")
            check(status == 403, "wrong token -> 403: %s" % status)
            status, _, _ = post(server, load, TOKEN[:-1])
            check(status == 403, "a prefix of the token -> 403: %s" % status)
            status, _, data = post(server, "/v2/repository/index", TOKEN)
            idx = loads(data)
            check(status == 200 and isinstance(idx, list) and idx[0]["name"] == name and idx[0]["state"] == "READY",
                  "index: %s %s" % (status, data[:300]))
            status, _, data = post(server, "/v2/repository/models/other/load", TOKEN)
            check(status == 404, "unknown model name -> 404: %s" % status)
            status, _, data = server.request("GET", load, None, {"Authorization": "Bearer " + TOKEN})
            check(status == 405, "GET load -> 405: %s" % status)
            status, _, data = post(server, load, TOKEN)
            check(status == 200, "load with the token -> 200: %s %s" % (status, data[:200]))
            status, _, info = server.json("GET", "/info")
            check(info["model"]["reloads"] == 1 and info["model"]["generation"] == 2, "/info after a load: %s" % info)

            # A second reload while one runs: SIGHUP starts one, the POST gets 409.
            mark = len(server.log_lines)
            server.proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 30
            while time.time() < deadline and not any("model reload (SIGHUP): loading" in l
                                                     for l in server.log_lines[mark:]):
                time.sleep(0.01)
            status, _, data = post(server, load, TOKEN)
            check(status == 409, "load during a SIGHUP reload -> 409: %s %s" % (status, data[:200]))
            deadline = time.time() + 120
            while time.time() < deadline and not any("(SIGHUP): now serving" in l for l in server.log_lines[mark:]):
                time.sleep(0.05)
            # A corrupt file: 400 with the reason; the model keeps serving.
            with open(served, "wb") as f:
                f.write(b"PK\x03\x04 not a model")
            status, _, data = post(server, load, TOKEN)
            check(status == 400 and b"previous model keeps serving" in data, "corrupt file -> 400: %s %s"
                  % (status, data[:300]))
            with open(os.path.join(args.shared_dir, "dog.jpg"), "rb") as f:
                status, _, data = server.request("POST", "/", f.read(), {"Content-Type": "image/jpeg"})
            check(status == 200 and b"class_id" in data, "still serving after the failed load: %s" % status)
            status, _, data = server.request("GET", "/metrics")
            check(b'inferd_model_reloads_total{result="failed"} 1' in data
                  and b'inferd_model_reloads_total{result="ok"} 2' in data,
                  "/metrics counts 2 reloads and 1 failure")
        finally:
            check(server.stop() == 0, "explicit server exits 0")

        # Its own listener on loopback.
        shutil.copyfile(model, served)
        server = Server(args.binary, served, args.class_index,
                        base + ["--model-control", "explicit", "--admin-addr", "127.0.0.1", "--admin-port", "0"])
        try:
            admin_port = None
            for line in server.log_lines:
                if "model control listening on" in line:
                    admin_port = int(line.rsplit("port", 1)[1].split()[0])
            check(admin_port is not None, "admin listener logged its port")
            status, _, _ = post(server, "/v2/repository/index")
            check(status == 404, "public listener: model control -> 404: %s" % status)
            if admin_port:
                status, _, data = post(server, "/v2/repository/index", port=admin_port)
                check(status == 200 and name.encode() in data, "admin listener: index -> %s" % status)
                saved, server.port = server.port, admin_port
                status, _, _ = server.request("GET", "/info")
                server.port = saved
                check(status == 404, "admin listener serves nothing else: /info -> %s" % status)
        finally:
            check(server.stop() == 0, "admin-listener server exits 0")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
