#!/usr/bin/env python3
"""Soak and overload test of the real server (issue 4).

(a) soak: N mixed requests (default 20000; --quick: 1500) at C concurrent
    connections (default 16): good images of many formats and sizes, single
    and several per request, malformed files, broken multipart, aborted
    uploads, oversize bodies. Every good answer must equal the answer the
    server gave for the same file in a single warm-up request; every bad one
    must be its 4xx with a JSON error; no 5xx at all. The server's RSS is
    sampled from /proc every second: the mean of the last quarter may exceed
    the first quarter's by less than 5%.
(b) overload: many more clients (default 64) than --queue-capacity 4: the
    excess gets 503 + Retry-After quickly (p50/p99 reported, p99 < 1 s),
    nothing hangs, and the server answers normally at once afterwards.
(c) SIGTERM under load: every request started before the signal completes
    with its correct 200 answer, and the server exits 0.

Prints a summary table, then "N passed, M failed" alone on the last line;
exits non-zero on failure. Traffic goes to 127.0.0.1 only; every loop is
bounded by a request count and by --max-seconds.

    /usr/bin/python3 tests/soak.py --binary build/inferd [--quick] [--requests N] [--concurrency C]
    scripts/soak.sh [--quick] ...       (finds the binary and a model)
"""

import http.client
import io
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "lib"))

from PIL import Image  # noqa: E402

from server import Server, multipart  # noqa: E402
from checks import check, results, find_model, loads, is_json_error, server_test_parser  # noqa: E402

summary = []  # (phase, what, value)










def pct(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


# ------------------------------------------------------------------ corpus --

def encode(im, fmt, **kw):
    bio = io.BytesIO()
    im.save(bio, fmt, **kw)
    return bio.getvalue()


def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def good_corpus(shared_dir):
    """{name: bytes}: the photos and PIL re-encodings of many formats and sizes."""
    files = {}
    photos = {}
    for name in ("dog", "lion", "giraffe", "monkey"):
        with open(os.path.join(shared_dir, name + ".jpg"), "rb") as f:
            photos[name] = f.read()
        files[name + ".jpg"] = photos[name]
    sizes = [(64, 48), (227, 227), (320, 240), (801, 601), (1600, 1200), (2000, 300)]
    for i, (pname, data) in enumerate(sorted(photos.items())):
        base = Image.open(io.BytesIO(data)).convert("RGB")
        for j, (w, h) in enumerate(sizes):
            if (i + j) % 2:
                continue  # half the combinations keep the corpus small
            im = base.resize((w, h), Image.BILINEAR)
            tag = f"{pname}_{w}x{h}"
            files[tag + "_q60.jpg"] = encode(im, "JPEG", quality=60)
            files[tag + "_prog.jpg"] = encode(im, "JPEG", quality=90, progressive=True)
            files[tag + "_gray.jpg"] = encode(im.convert("L"), "JPEG", quality=85)
            files[tag + ".png"] = encode(im, "PNG")
            files[tag + "_rgba.png"] = encode(im.convert("RGBA"), "PNG")
            files[tag + "_p.png"] = encode(im.convert("P", palette=Image.ADAPTIVE, colors=64), "PNG")
            files[tag + "_l.png"] = encode(im.convert("L"), "PNG")
            files[tag + ".gif"] = encode(im.convert("P", palette=Image.ADAPTIVE, colors=128), "GIF")
            files[tag + ".bmp"] = encode(im, "BMP")
    return files, photos


def bad_corpus(photos, small_png):
    """[(name, bytes, expected status)]: malformed files made from real images."""
    dog, lion = photos["dog"], photos["lion"]
    ihdr_bad = bytearray(small_png)
    ihdr_bad[29] ^= 0xFF  # IHDR CRC
    huge = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", 10000, 10000, 8, 2, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b""))
    zero_w = bytearray(small_png)
    zero_w[16:20] = b"\x00\x00\x00\x00"
    zero_w[29:33] = struct.pack(">I", zlib.crc32(bytes(zero_w[12:29])) & 0xFFFFFFFF)
    # Corrupt the first Huffman table's counts (fatal for libjpeg).
    dht = bytearray(dog)
    p = dog.find(b"\xff\xc4")
    for i in range(p + 5, p + 21):
        dht[i] ^= 0xFF
    return [
        ("text.jpg", b"plain text pretending to be a photo of a dog\n" * 20, 415),
        ("page.jpg", b"<html><body><h1>dog</h1></body></html>", 415),
        ("dog_trunc100.jpg", dog[:100], 400),
        ("dog_trunc_half.jpg", dog[: len(dog) // 2], 400),
        ("png_trunc100.png", small_png[:100], 400),
        ("png_trunc_half.png", small_png[: len(small_png) // 2], 400),
        ("png_bad_ihdr_crc.png", bytes(ihdr_bad), 400),
        ("png_zero_width.png", bytes(zero_w), 400),
        ("png_header_10000x10000.png", huge, 413),
        ("jpeg_bad_dht.jpg", bytes(dht), 400),
        ("jpeg_magic_garbage.jpg", dog[:3] + lion[7000:11000], 400),
        ("png_magic_garbage.png", b"\x89PNG\r\n\x1a\n" + lion[7000:11000], 400),
        ("empty", b"", 400),
    ]


# ---------------------------------------------------------------- requests --

class Client:
    """One keep-alive connection, reopened when the server closes it."""

    def __init__(self, port, timeout=60):
        self.port = port
        self.timeout = timeout
        self.conn = None

    def request(self, method, path, body=None, headers=None):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        t0 = time.time()
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            r = self.conn.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            if r.will_close:
                self.close()
            return r.status, hdrs, data, time.time() - t0
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return None, {}, repr(e).encode(), time.time() - t0

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def aborted_upload(port, body, ctype):
    """Announces more bytes than it sends, then closes."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall((f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
                       f"Content-Length: {len(body) * 2 + 10}\r\n\r\n").encode() + body[: len(body) // 2])
        return True
    except OSError:
        return False


def oversize_by_length(port):
    """Content-Length above the 20 MiB default: 413 before any body byte."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
                      b"Content-Length: 31457280\r\n\r\n")
            s.settimeout(10)
            buf = b""
            while b"\r\n\r\n" not in buf:
                c = s.recv(4096)
                if not c:
                    break
                buf += c
            status = int(buf.split(b" ", 2)[1]) if buf.startswith(b"HTTP/1.") else None
            head, _, rest = buf.partition(b"\r\n\r\n")
            while len(rest) < 20:
                c = s.recv(4096)
                if not c:
                    break
                rest += c
            return status, rest
    except (OSError, ValueError):
        return None, b""


class RssSampler(threading.Thread):
    def __init__(self, pid, period=1.0):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.samples = []
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.is_set():
            try:
                with open(f"/proc/{self.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            self.samples.append((time.time(), int(line.split()[1])))
            except OSError:
                return
            self.stop_event.wait(self.period)

    def stop(self):
        self.stop_event.set()
        self.join(5)


# ------------------------------------------------------------------ phases --

def phase_soak(args, good, photos, bad, small_png):
    server = Server(args.binary, args.model, args.class_index,
                    extra_args=["--warmup", "1", "--connection-timeout-s", "10", "--access-log", "false"],
                    ready_timeout=300)
    try:
        names = sorted(good)
        ref = {}
        warm = Client(server.port)
        for n in names:
            st, _, data, _ = warm.request("POST", "/", good[n], {"Content-Type": "application/octet-stream"})
            ref[n] = data if st == 200 and loads(data) and "class_id" in loads(data) else None
        warm.close()
        missing = [n for n in names if ref[n] is None]
        check(not missing, f"soak warm-up: every good file classified once ({len(names) - len(missing)}/{len(names)}, "
              f"refused: {missing[:5]})")
        names = [n for n in names if ref[n] is not None]
        ref_obj = {n: loads(ref[n]) for n in names}

        rng = random.Random(args.seed)
        plan = []
        # The first requests prime the allocator: 16 clients bring up glibc's
        # per-thread arenas, each of which keeps freed memory (by design, see
        # util_retain_freed_memory), so RSS climbs until every arena is in
        # use. Growth is judged on the samples taken after them: a leak keeps
        # growing there, arena warm-up does not.
        n_prime = max(args.requests // 5, 4 * args.concurrency)
        for i in range(args.requests + n_prime):
            r = rng.random()
            if r < 0.58:
                plan.append(("good", rng.choice(names)))
            elif r < 0.68:
                plan.append(("multi", tuple(rng.choice(names) for _ in range(rng.randint(2, 3)))))
            elif r < 0.86:
                plan.append(("bad", rng.randrange(len(bad))))
            elif r < 0.93:
                plan.append(("badmultipart", rng.randrange(3)))
            elif r < 0.98:
                plan.append(("aborted", rng.choice(names)))
            else:
                plan.append(("oversize", None))

        lock = threading.Lock()
        stats = {"sent": 0, "by_status": {}, "wrong": [], "errors": [], "latency": []}
        cursor = [0]
        deadline = time.time() + args.max_seconds
        rss = RssSampler(server.proc.pid)
        rss.start()

        primed_at = [None]

        def record(kind, status, ok, what, latency=None):
            with lock:
                stats["sent"] += 1
                if stats["sent"] == n_prime:
                    primed_at[0] = time.time()
                key = f"{kind}:{status}"
                stats["by_status"][key] = stats["by_status"].get(key, 0) + 1
                if latency is not None:
                    stats["latency"].append(latency)
                if not ok and len(stats["errors"]) < 20:
                    stats["errors"].append(what)
                if not ok:
                    stats["wrong"].append(what)

        def worker(wid):
            client = Client(server.port)
            while time.time() < deadline:
                with lock:
                    i = cursor[0]
                    cursor[0] += 1
                if i >= len(plan):
                    break
                kind, arg = plan[i]
                if kind == "good":
                    how = i % 3
                    if how == 0:
                        body, ctype = multipart([("image", arg, good[arg])])
                    else:
                        body, ctype = good[arg], "image/jpeg" if how == 1 else "application/octet-stream"
                    st, _, data, lat = client.request("POST", "/", body, {"Content-Type": ctype})
                    ok = st == 200 and data == ref[arg]
                    record("good", st, ok, f"good {arg}: {st} {data[:100]!r} != {ref[arg]!r}", lat)
                elif kind == "multi":
                    body, ctype = multipart([("image", n, good[n]) for n in arg])
                    st, _, data, lat = client.request("POST", "/", body, {"Content-Type": ctype})
                    ok = st == 200 and loads(data) == [ref_obj[n] for n in arg]
                    record("multi", st, ok, f"multi {arg}: {st} {data[:100]!r}", lat)
                elif kind == "bad":
                    name, data_in, want = bad[arg]
                    if i % 2:
                        body, ctype = multipart([("image", name, data_in)])
                    else:
                        body, ctype = data_in, "application/octet-stream"
                    st, _, data, lat = client.request("POST", "/", body, {"Content-Type": ctype})
                    ok = st == want and is_json_error(data)
                    record("bad", st, ok, f"bad {name}: want {want}, got {st} {data[:100]!r}", lat)
                elif kind == "badmultipart":
                    dog = photos["dog"]
                    if arg == 0:
                        body, ctype = multipart([("file", "dog.jpg", dog)])
                    elif arg == 1:
                        body, _ = multipart([("image", "dog.jpg", dog)], boundary="bodyboundary")
                        ctype = "multipart/form-data; boundary=headerboundary"
                    else:
                        body, ctype = multipart([("image", "dog.jpg", dog)])
                        body = body[: len(body) // 2]
                    st, _, data, lat = client.request("POST", "/", body, {"Content-Type": ctype})
                    ok = st == 400 and is_json_error(data)
                    record("badmultipart", st, ok, f"broken multipart #{arg}: {st} {data[:100]!r}", lat)
                elif kind == "aborted":
                    ok = aborted_upload(server.port, good[arg], "image/jpeg")
                    record("aborted", "sent" if ok else "connect-error", ok, "aborted upload could not connect")
                else:
                    st, data = oversize_by_length(server.port)
                    ok = st == 413 and b"error" in data
                    record("oversize", st, ok, f"oversize by Content-Length: {st} {data[:80]!r}")
            client.close()

        t0 = time.time()
        threads = [threading.Thread(target=worker, args=(w,), daemon=True) for w in range(args.concurrency)]
        for t in threads:
            t.start()
        last_report = t0
        while any(t.is_alive() for t in threads) and time.time() < deadline + 120:
            time.sleep(1.0)
            if time.time() - last_report >= 30:
                last_report = time.time()
                print(f"  soak: {stats['sent']}/{len(plan)} requests, {time.time() - t0:.0f} s, "
                      f"RSS {rss.samples[-1][1] if rss.samples else 0} KiB", flush=True)
        for t in threads:
            t.join(5)
        elapsed = time.time() - t0
        rss.stop()
        hung = sum(t.is_alive() for t in threads)
        check(hung == 0, f"soak: no client thread hangs ({hung} still running)")
        check(stats["sent"] == len(plan), f"soak: all {len(plan)} requests done within --max-seconds "
              f"{args.max_seconds} (done {stats['sent']})")
        wrong = stats["wrong"]
        check(not wrong, f"soak: every answer is right ({len(wrong)} wrong; first: {stats['errors'][:5]})")
        fivexx = {k: v for k, v in stats["by_status"].items() if k.split(":")[1].startswith("5")}
        check(not fivexx, f"soak: no 5xx at all ({fivexx})")
        st, _, _, _ = Client(server.port).request("GET", "/health")
        check(st == 200, f"soak: server healthy at the end ({st})")
        inflight = None
        for _ in range(30):  # up to 3 s
            st, _, data, _ = Client(server.port).request("GET", "/metrics")
            for line in data.decode(errors="replace").splitlines():
                if line.startswith("inferd_requests_in_flight "):
                    inflight = float(line.split()[1])
            if inflight == 1:
                break
            time.sleep(0.1)
        check(inflight == 1, f"soak: nothing left in flight 3 s after the soak (inferd_requests_in_flight {inflight}, "
              "counting this /metrics request)")

        samples = [kib for t, kib in rss.samples if primed_at[0] is not None and t >= primed_at[0]]
        q = max(1, len(samples) // 4)
        first, last = samples[:q], samples[-q:]
        m1 = sum(first) / len(first) if first else 0
        m2 = sum(last) / len(last) if last else 0
        growth = (m2 - m1) / m1 * 100 if m1 else 0
        check(len(samples) >= 8, f"soak: RSS sampled every second ({len(samples)} samples)")
        check(growth < 5.0, f"soak: RSS growth first->last quarter {growth:.2f}% < 5% ({m1:.0f} -> {m2:.0f} KiB)")

        summary.append(("soak", "requests / concurrency", f"{stats['sent']} / {args.concurrency}"))
        summary.append(("soak", "duration, throughput", f"{elapsed:.0f} s, {stats['sent'] / max(elapsed, 1e-9):.1f} req/s"))
        for k in sorted(stats["by_status"]):
            summary.append(("soak", f"  {k}", str(stats["by_status"][k])))
        summary.append(("soak", "wrong answers", str(len(wrong))))
        lat = stats["latency"]
        summary.append(("soak", "latency p50 / p99 / max", f"{pct(lat, 50) * 1000:.0f} / {pct(lat, 99) * 1000:.0f} / "
                        f"{max(lat, default=0) * 1000:.0f} ms"))
        summary.append(("soak", "RSS start / end / max", f"{samples[0] if samples else 0} / {samples[-1] if samples else 0} / "
                        f"{max(samples, default=0)} KiB"))
        summary.append(("soak", "RSS mean 1st / last quarter", f"{m1:.0f} / {m2:.0f} KiB, growth {growth:+.2f}%"))
        return ref
    finally:
        rc = server.stop()
        check(rc == 0, f"soak server exits 0 ({rc})")


def phase_overload(args, small_jpeg):
    server = Server(args.binary, args.model, args.class_index,
                    extra_args=["--warmup", "1", "--queue-capacity", "4", "--max-batch", "4", "--access-log", "false",
                                "--max-connections", "512"], ready_timeout=300)
    try:
        st, _, ref, _ = Client(server.port).request("POST", "/", small_jpeg, {"Content-Type": "image/jpeg"})
        check(st == 200, f"overload: reference answer ({st})")
        results = []
        lock = threading.Lock()
        barrier = threading.Barrier(args.overload_clients, timeout=60)
        deadline = time.time() + args.max_seconds

        def client_main(cid):
            c = Client(server.port, timeout=30)
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
            for _ in range(args.overload_rounds):
                if time.time() > deadline:
                    break
                st, h, data, lat = c.request("POST", "/", small_jpeg, {"Content-Type": "image/jpeg"})
                with lock:
                    results.append((st, h.get("retry-after"), data, lat))
            c.close()

        t0 = time.time()
        threads = [threading.Thread(target=client_main, args=(i,), daemon=True) for i in range(args.overload_clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(1, deadline - time.time()) + 60)
        elapsed = time.time() - t0
        hung = sum(t.is_alive() for t in threads)
        st, _, data, lat_after = Client(server.port).request("POST", "/", small_jpeg, {"Content-Type": "image/jpeg"})
        ready = Client(server.port).request("GET", "/ready")[0]

        codes = [r[0] for r in results]
        n200, n503 = codes.count(200), codes.count(503)
        lat503 = [r[3] for r in results if r[0] == 503]
        lat200 = [r[3] for r in results if r[0] == 200]
        total = args.overload_clients * args.overload_rounds
        check(hung == 0 and len(results) == total, f"overload: every request answered, nothing hangs "
              f"({len(results)}/{total}, {hung} threads hung)")
        check(n200 + n503 == len(results), f"overload: only 200 and 503 ({sorted(set(map(str, codes)))})")
        check(n503 > 0, f"overload: the excess gets 503 ({n503} of {len(results)})")
        check(all(r[1] for r in results if r[0] == 503), "overload: every 503 carries Retry-After")
        check(all(is_json_error(r[2]) for r in results if r[0] == 503), "overload: every 503 has a JSON error")
        check(all(r[2] == ref for r in results if r[0] == 200), "overload: every 200 is the right answer")
        check(pct(lat503, 99) < 1.0, f"overload: 503 p99 latency {pct(lat503, 99) * 1000:.0f} ms < 1000 ms")
        check(st == 200 and data == ref and lat_after < 2.0,
              f"overload: the server answers normally right after ({st}, {lat_after * 1000:.0f} ms)")
        check(ready == 200, f"overload: /ready 200 right after ({ready})")
        summary.append(("overload", "clients x rounds, queue", f"{args.overload_clients} x {args.overload_rounds}, queue 4"))
        summary.append(("overload", "200 / 503 / other", f"{n200} / {n503} / {len(results) - n200 - n503}"))
        summary.append(("overload", "503 latency p50 / p99 / max", f"{pct(lat503, 50) * 1000:.0f} / {pct(lat503, 99) * 1000:.0f}"
                        f" / {max(lat503, default=0) * 1000:.0f} ms"))
        summary.append(("overload", "200 latency p50 / p99", f"{pct(lat200, 50) * 1000:.0f} / {pct(lat200, 99) * 1000:.0f} ms"))
        summary.append(("overload", "duration; first request after", f"{elapsed:.1f} s; {st} in {lat_after * 1000:.0f} ms"))
    finally:
        rc = server.stop()
        check(rc == 0, f"overload server exits 0 ({rc})")


def phase_sigterm(args, good, ref):
    server = Server(args.binary, args.model, args.class_index,
                    extra_args=["--warmup", "1", "--access-log", "false", "--drain-timeout-s", "30"], ready_timeout=300)
    names = [n for n in sorted(good) if ref.get(n) is not None and len(good[n]) < 400000]
    try:
        stop_flag = threading.Event()
        results = []  # (t_start, t_end, status, right)
        lock = threading.Lock()
        t_signal = [None]
        deadline = time.time() + min(args.max_seconds, 120)

        def worker(wid):
            rng = random.Random(wid)
            c = Client(server.port, timeout=60)
            while not stop_flag.is_set() and time.time() < deadline:
                n = rng.choice(names)
                t_start = time.time()
                st, _, data, _ = c.request("POST", "/", good[n], {"Content-Type": "application/octet-stream"})
                with lock:
                    results.append((t_start, time.time(), st, data == ref[n]))
            c.close()

        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.concurrency)]
        for t in threads:
            t.start()
        time.sleep(3.0)
        t_signal[0] = time.time()
        stop_flag.set()
        server.proc.send_signal(signal.SIGTERM)
        try:
            rc = server.proc.wait(60)
        except subprocess.TimeoutExpired:
            rc = None
        drain = time.time() - t_signal[0]
        for t in threads:
            t.join(30)
        hung = sum(t.is_alive() for t in threads)
        before = [r for r in results if r[0] < t_signal[0]]
        done_ok = [r for r in before if r[2] == 200 and r[3]]
        in_flight = [r for r in before if r[1] >= t_signal[0]]
        check(len(before) > args.concurrency, f"sigterm: load was running ({len(before)} requests before the signal)")
        check(len(in_flight) >= 1, f"sigterm: requests were in flight at the signal ({len(in_flight)})")
        check(len(done_ok) == len(before), f"sigterm: every request started before SIGTERM completes with its right 200 "
              f"({len(done_ok)}/{len(before)}; in flight at the signal: {[r[2] for r in in_flight]})")
        check(rc == 0, f"sigterm: exit code 0 after the drain ({rc}, {drain:.1f} s)")
        check(hung == 0, f"sigterm: no client left hanging ({hung})")
        summary.append(("sigterm", "requests before signal / in flight", f"{len(before)} / {len(in_flight)}"))
        summary.append(("sigterm", "in-flight statuses", str(sorted({str(r[2]) for r in in_flight}))))
        summary.append(("sigterm", "drain time, exit code", f"{drain:.2f} s, {rc}"))
    finally:
        server.kill()


def main():
    ap = server_test_parser(__doc__)
    ap.add_argument("--quick", action="store_true", help="~1500 requests, fewer overload rounds (CI)")
    ap.add_argument("--requests", type=int, default=None, help="soak requests (default 20000; --quick 1500)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--overload-clients", type=int, default=64)
    ap.add_argument("--overload-rounds", type=int, default=None, help="requests per overload client (default 20; --quick 5)")
    ap.add_argument("--max-seconds", type=float, default=None, help="bound per phase (default 3600; --quick 900)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--skip", default="", help="comma-separated phases to skip: soak,overload,sigterm")
    args = ap.parse_args()
    args.model = find_model(args.model)
    if args.requests is None:
        args.requests = 1500 if args.quick else 20000
    if args.overload_rounds is None:
        args.overload_rounds = 5 if args.quick else 20
    if args.max_seconds is None:
        args.max_seconds = 900 if args.quick else 3600
    skip = set(filter(None, args.skip.split(",")))

    good, photos = good_corpus(args.shared_dir)
    small = Image.open(io.BytesIO(photos["dog"])).convert("RGB").resize((320, 240), Image.BILINEAR)
    small_png = encode(small, "PNG")
    small_jpeg = encode(small, "JPEG", quality=90)
    bad = bad_corpus(photos, small_png)
    print(f"corpus: {len(good)} good files ({sum(map(len, good.values())) >> 10} KiB), {len(bad)} malformed", flush=True)
    ref = {}
    try:
        if "soak" not in skip:
            ref = phase_soak(args, good, photos, bad, small_png) or {}
        if "overload" not in skip:
            phase_overload(args, small_jpeg)
        if "sigterm" not in skip:
            if not ref:
                s = Server(args.binary, args.model, args.class_index, extra_args=["--warmup", "1"], ready_timeout=300)
                try:
                    for n in good:
                        st, _, data = s.request("POST", "/", good[n], {"Content-Type": "application/octet-stream"})
                        ref[n] = data if st == 200 else None
                finally:
                    s.stop()
            phase_sigterm(args, good, ref)
    except Exception as e:  # noqa: BLE001
        import traceback
        traceback.print_exc()
        check(False, f"unexpected exception: {e!r}")
    print()
    print("%-10s %-38s %s" % ("phase", "measure", "value"))
    print("-" * 90)
    for phase, what, value in summary:
        print("%-10s %-38s %s" % (phase, what, value))
    print()
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
