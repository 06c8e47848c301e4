#!/usr/bin/env python3
"""Overload without collapse (issue 16), functional checks on the real server:

- admission before work: with the queue (plus the requests being prepared)
  at capacity, a new upload gets 503 + Retry-After right after its headers,
  before the client has sent its 10 MB body; with Expect: 100-continue the
  503 replaces the 100;
- deadlines: a request whose X-Request-Timeout-Ms passes before its forward
  is answered 504 (or refused 503 at admission) and never reaches the model;
  a bad header value is a 400;
- cancellation: a client that closes its connection 100 ms after sending,
  while its image is queued, gets no forward (the model's batch-size sum
  does not grow by it) and is logged and counted as 499, never 0.

"Reaches the model" is read from /metrics: inferd_batch_size_sum is the
number of images the model has run (warm-up forwards are not counted).
Prints "N passed, M failed" on its last line.

    /usr/bin/python3 tests/overload_test.py --binary build/inferd [--model M]
"""

import base64
import http.client
import json
import os
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "lib"))

from server import Server  # noqa: E402
from checks import check, results, find_model, is_json_error, loads, server_test_parser  # noqa: E402


def metrics(server):
    """{series: value} of the server's /metrics ('name{labels}' as written)."""
    status, _, body = server.request("GET", "/metrics", timeout=10)
    out = {}
    if status != 200:
        return out
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            try:
                out[key] = float(value)
            except ValueError:
                pass
    return out


def forwarded(server):
    return metrics(server).get("inferd_batch_size_sum", 0.0)


def wait_for(pred, timeout=30.0, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return False


def access_entries(server, request_id):
    """The JSON access-log entries of one request id."""
    out = []
    for line in list(server.log_lines):
        obj = loads(line)
        if isinstance(obj, dict) and obj.get("level") == "access" and obj.get("request_id") == request_id:
            out.append(obj)
    return out


def post_image(server, image, headers=None, timeout=120):
    """(status, headers, body) of a raw image POST on its own connection."""
    h = {"Content-Type": "image/jpeg"}
    h.update(headers or {})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.request("POST", "/", body=image, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    except (OSError, http.client.HTTPException) as e:
        return None, {}, repr(e).encode()
    finally:
        conn.close()


def background_posts(server, image, n):
    """Starts n image POSTs at once; returns (threads, results list)."""
    res = [None] * n

    def one(i):
        res[i] = post_image(server, image)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return threads, res


def read_head(sock, timeout):
    """Reads until the end of a response head (or close/timeout); returns the bytes."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionError):
        pass
    return data


def request_head(path, length, extra=""):
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
            f"Content-Length: {length}\r\n{extra}\r\n").encode()


def section_cancel(server, dog):
    """A client closing 100 ms after its request, while its image is queued."""
    base = forwarded(server)
    fillers, res = background_posts(server, dog, 6)
    queued = wait_for(lambda: metrics(server).get("inferd_queue_depth", 0) >= 3, timeout=60)
    check(queued, "cancel: the fillers make a queue (inferd_queue_depth >= 3)")
    rid = "overload-abandon-1"
    s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    s.sendall(request_head("/", len(dog), f"X-Request-Id: {rid}\r\n") + dog)
    time.sleep(0.1)
    s.close()
    for t in fillers:
        t.join(180)
    ok = [r for r in res if r and r[0] == 200]
    check(len(ok) == 6, f"cancel: the 6 fillers are answered 200 (got {[r[0] if r else None for r in res]})")
    logged = wait_for(lambda: access_entries(server, rid), timeout=30)
    entries = access_entries(server, rid)
    check(logged and entries[0].get("status") == 499,
          f"cancel: the abandoned request is logged with status 499 ({entries})")
    check(not any(e.get("status") == 0 for e in entries), "cancel: never logged with status 0")
    after = forwarded(server)
    check(after - base == len(ok),
          f"cancel: the model ran only the fillers' images (batch-size sum grew by {after - base:.0f}, "
          f"{len(ok)} answered)")
    m = metrics(server)
    cancelled = m.get('inferd_client_cancelled_total{stage="queued"}', 0)
    check(cancelled >= 1, f"cancel: inferd_client_cancelled_total with stage queued counts it ({cancelled})")
    check(m.get('inferd_requests_total{route="/",code="499"}', 0) >= 1,
          "cancel: inferd_requests_total has code=\"499\" for /")
    check(not any(k.startswith("inferd_requests_total") and 'code="0"' in k for k in m),
          "cancel: no inferd_requests_total series with code=\"0\"")
    st, _, body = post_image(server, dog)
    check(st == 200 and b"class_id" in body, f"cancel: the server still answers 200 afterwards (got {st})")


def section_deadline(server, dog):
    """Deadlines from X-Request-Timeout-Ms: no forward once they have passed."""
    st, _, body = post_image(server, dog, {"X-Request-Timeout-Ms": "soon"})
    check(st == 400 and is_json_error(body), f"deadline: a bad X-Request-Timeout-Ms is a 400 JSON error (got {st})")
    st, _, body = post_image(server, dog, {"X-Request-Timeout-Ms": "0"})
    check(st == 400 and is_json_error(body), f"deadline: X-Request-Timeout-Ms 0 is a 400 (got {st})")

    # Decoding dog.jpg alone takes longer than 1 ms: the deadline has passed
    # before the image could be queued.
    base = forwarded(server)
    st, hdrs, body = post_image(server, dog, {"X-Request-Timeout-Ms": "1", "X-Request-Id": "overload-late-1"})
    check(st == 504 and is_json_error(body), f"deadline: 1 ms on an idle server is answered 504 (got {st} {body[:80]!r})")
    check(forwarded(server) == base, "deadline: the late request did not reach the model")

    # The same through the OIP (Triton) request parameter "timeout", in microseconds.
    def v2(params):
        doc = {"inputs": [{"name": "image", "shape": [1], "datatype": "BYTES",
                           "data": [base64.b64encode(dog).decode()]}], "parameters": params}
        return server.request("POST", "/v2/models/densenet121/infer", body=json.dumps(doc).encode(),
                              headers={"Content-Type": "application/json"}, timeout=120)
    base = forwarded(server)
    st, _, body = v2({"timeout": 1})
    check(st == 504 and is_json_error(body), f"deadline: v2 parameters.timeout 1 us is answered 504 (got {st})")
    check(forwarded(server) == base, "deadline: the late v2 request did not reach the model")
    st, _, body = v2({"timeout": "soon"})
    check(st == 400 and is_json_error(body), f"deadline: a bad v2 parameters.timeout is a 400 (got {st})")
    st, _, body = v2({"timeout": 60000000})
    check(st == 200 and b'"outputs"' in body, f"deadline: a v2 timeout of 60 s is served (got {st})")

    # Behind a queue: a deadline shorter than the wait is refused at
    # admission (503) or expires in the queue (504), without a forward.
    base = forwarded(server)
    # Eight fillers keep the queue deep for ~0.5 s: whatever the build's
    # speed (an ASan build reaches the admission check later), the request
    # still finds a wait of several forwards ahead of it.
    fillers, res = background_posts(server, dog, 8)
    wait_for(lambda: metrics(server).get("inferd_queue_depth", 0) >= 5, timeout=60)
    t0 = time.time()
    st, hdrs, body = post_image(server, dog, {"X-Request-Timeout-Ms": "150"})
    ms = (time.time() - t0) * 1000
    for t in fillers:
        t.join(180)
    ok = [r for r in res if r and r[0] == 200]
    check(st in (503, 504) and is_json_error(body),
          f"deadline: 150 ms behind a queue is answered 503 or 504 (got {st} after {ms:.0f} ms)")
    check(ms < 1000, f"deadline: answered within its deadline's order, not after the queue ({ms:.0f} ms)")
    if st == 503:
        check(bool(hdrs.get("retry-after")), "deadline: the 503 has Retry-After")
    after = forwarded(server)
    check(after - base == len(ok), f"deadline: only the fillers' images ran (sum grew by {after - base:.0f}, "
          f"{len(ok)} answered 200)")
    m = metrics(server)
    shed = m.get('inferd_queue_expired_total{deadline="client"}', 0) + \
        m.get('inferd_admission_rejected_total{reason="deadline"}', 0)
    check(shed >= 2, f"deadline: counted as expired (client) or refused (deadline) in /metrics ({shed:.0f})")


def section_admission(args, dog):
    """A full queue refuses before reading the body."""
    server = Server(args.binary, args.model, args.class_index, ready_timeout=300,
                    extra_args=["--queue-capacity", "1", "--max-batch", "1", "--model-instances", "1",
                                "--threads", "1", "--http-threads", "2", "--warmup", "1", "--log-format", "json"])
    holder = None
    try:
        big = 10 * 1024 * 1024
        # The holder is admitted and keeps sending its body slowly: it fills
        # the one place (queue + being prepared).
        holder = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        holder.sendall(request_head("/", big) + dog[:1000])
        check(wait_for(lambda: metrics(server).get("inferd_requests_in_flight", 0) >= 2, timeout=10),
              "admission: the holder's request is in flight")

        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        t0 = time.time()
        s.sendall(request_head("/", big, "X-Request-Id: overload-refused-1\r\n") + b"\xff" * 65536)
        head = read_head(s, 5)
        ms = (time.time() - t0) * 1000
        s.close()
        first = head.split(b"\r\n", 1)[0]
        check(first.startswith(b"HTTP/1.1 503"), f"admission: 503 while 64 KB of a 10 MB body are sent (got {first!r})")
        check(b"retry-after:" in head.lower(), "admission: the 503 has Retry-After")
        check(ms < 2000, f"admission: the 503 comes at once ({ms:.0f} ms)")
        wait_for(lambda: access_entries(server, "overload-refused-1"), timeout=5)
        e = access_entries(server, "overload-refused-1")
        check(e and e[0].get("status") == 503 and e[0].get("bytes_in", big) < big // 4,
              f"admission: the body was not read (log: {e})")

        # Expect: 100-continue: the 503 replaces the 100, so no body is sent at all.
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall(request_head("/", big, "Expect: 100-continue\r\n"))
        head = read_head(s, 5)
        s.close()
        first = head.split(b"\r\n", 1)[0]
        check(first.startswith(b"HTTP/1.1 503"), f"admission: Expect: 100-continue gets 503, not 100 (got {first!r})")

        # The KServe v2 route is admitted the same way.
        s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        s.sendall((f"POST /v2/models/densenet121/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {big}\r\n\r\n").encode() + b" " * 65536)
        head = read_head(s, 5)
        s.close()
        check(head.startswith(b"HTTP/1.1 503"), f"admission: v2 infer is refused the same way (got {head[:40]!r})")

        m = metrics(server)
        refused = m.get('inferd_admission_rejected_total{reason="queue_full"}', 0)
        check(refused >= 3, f"admission: inferd_admission_rejected_total with reason queue_full counts them ({refused})")
        check(m.get("inferd_batch_size_sum", -1) == 0, "admission: nothing reached the model")

        holder.close()
        holder = None
        check(wait_for(lambda: metrics(server).get("inferd_requests_in_flight", 0) <= 1, timeout=10),
              "admission: the holder's place is released when it goes")
        st, _, body = post_image(server, dog)
        check(st == 200 and b"class_id" in body, f"admission: then a request is served 200 (got {st})")
    finally:
        if holder:
            holder.close()
        rc = server.stop()
        check(rc == 0, f"admission server exits 0 on SIGTERM (got {rc})")


def main():
    ap = server_test_parser(__doc__)
    args = ap.parse_args()
    args.model = find_model(args.model)
    with open(os.path.join(args.shared_dir, "dog.jpg"), "rb") as f:
        dog = f.read()

    section_admission(args, dog)

    # One worker running batches of one: a queue forms behind it.
    server = Server(args.binary, args.model, args.class_index, ready_timeout=300,
                    extra_args=["--queue-capacity", "16", "--max-batch", "1", "--model-instances", "1",
                                "--threads", "1", "--http-threads", "2", "--warmup", "1", "--batch-delay-us", "0",
                                "--log-format", "json"])
    try:
        section_cancel(server, dog)
        section_deadline(server, dog)
    finally:
        rc = server.stop()
        check(rc == 0, f"server exits 0 on SIGTERM (got {rc})")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
