#!/usr/bin/env python3
"""Hardening test of the real server (issue 4): malformed inputs, size limits,
slow and abusive clients, overload and shutdown.

Every malformed input is derived from real images (the shared photos, or
images PIL generates from them): truncated, corrupted, lying headers, bad
multipart, oversize bodies. For each one the server must answer a 4xx with a
JSON {"error": ...} body (libmicrohttpd's own rejections - garbage request
lines, oversize headers - are 4xx without JSON) and still answer GET /health.
Then: slowloris, connection limits, a full queue (503 + Retry-After, fast),
queue deadlines, graceful SIGTERM drain, drain timeout and a second SIGTERM.

A table with the exact status of every case is printed at the end, then
"N passed, M failed" alone on the last line; the exit status is non-zero on
any failure. Traffic goes to 127.0.0.1 only; every loop is bounded.

    /usr/bin/python3 tests/hardening_test.py --binary build/inferd [--model M]
"""

import http.client
import io
import json
import os
import random
import re
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
from checks import check, results, find_model, is_json_error, server_test_parser  # noqa: E402

table = []  # (case, how sent, expected, got, ms, note)






# ---------------------------------------------------------------- raw HTTP --

def parse_response(raw):
    """(status or None, headers with lower-case names, body) of one HTTP response."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        return None, {}, raw
    lines = head.split(b"\r\n")
    m = re.match(rb"HTTP/\d\.\d (\d{3})", lines[0])
    if not m:
        return None, {}, raw
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
    if "content-length" in headers:
        body = body[: int(headers["content-length"])]
    return int(m.group(1)), headers, body


def read_response(sock, timeout):
    """Reads one response (or until EOF/timeout). Returns (raw bytes, closed)."""
    deadline = time.time() + timeout
    buf = b""
    closed = False
    while time.time() < deadline:
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except OSError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        buf += chunk
        head, sep, body = buf.partition(b"\r\n\r\n")
        if sep:
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            if m and len(body) >= int(m.group(1)):
                break
    return buf, closed


def raw_exchange(port, payload, timeout=10):
    """Sends payload on a new connection and reads one response."""
    t0 = time.time()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(payload)
        except OSError:
            pass
        raw, _ = read_response(s, timeout)
    return parse_response(raw) + ((time.time() - t0) * 1000,)


def streaming_upload(port, head, body_chunks, timeout=20):
    """Sends head, then streams body chunks from a thread while waiting for the
    answer. Returns (status, headers, body, ms to the answer, bytes sent by
    then, whether the server closed the connection)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    sent = [0]
    stop = threading.Event()

    def sender():
        try:
            for c in body_chunks:
                if stop.is_set():
                    return
                s.sendall(c)
                sent[0] += len(c)
        except OSError:
            pass

    t0 = time.time()
    s.sendall(head)
    th = threading.Thread(target=sender, daemon=True)
    th.start()
    raw, closed = read_response(s, timeout)
    ms = (time.time() - t0) * 1000
    sent_then = sent[0]
    # Does the server stop reading? Wait briefly for EOF after the answer.
    if not closed:
        try:
            s.settimeout(2)
            while True:
                c = s.recv(65536)
                if not c:
                    closed = True
                    break
        except OSError:
            closed = closed or False
    stop.set()
    try:
        s.close()
    except OSError:
        pass
    th.join(5)
    status, headers, body = parse_response(raw)
    return status, headers, body, ms, sent_then, closed




def timed_request(server, method, path, body=None, headers=None, timeout=60):
    t0 = time.time()
    status, hdrs, data = server.request(method, path, body, headers, timeout=timeout)
    return status, hdrs, data, (time.time() - t0) * 1000


def healthy(server):
    status, _, body = server.request("GET", "/health", timeout=10)
    return status == 200 and body == b'{"status":"ok"}'


def metric_value(text, name):
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            try:
                return float(line.rsplit(" ", 1)[1])
            except ValueError:
                return None
    return None


# ---------------------------------------------------- malformed inputs ------

def png_chunk(tag, data):
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_header_only(width, height):
    """A PNG whose IHDR (valid CRC) declares width x height, with one tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_MAGIC + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        png_chunk(b"IEND", b"")


def png_big_valid(side, colour_type=0, bit_depth=1, height=None):
    """A complete, valid side x side (or side x height) PNG of zeros (gray
    1-bit or RGB 8-bit). The deflate stream repeats one fully-flushed block,
    so it is built in about a second without compressing gigabytes."""
    height = side if height is None else height
    channels = {0: 1, 2: 3}[colour_type]
    row = b"\x00" * (1 + (side * channels * bit_depth + 7) // 8)
    blk = row * 100
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = co.compress(blk) + co.flush(zlib.Z_FULL_FLUSH)
    n, rest = divmod(height, 100)
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = co.compress(row * rest) + co.flush()
    adler = 1
    for _ in range(n):
        adler = zlib.adler32(blk, adler)
    adler = zlib.adler32(row * rest, adler)
    data = b"\x78\xda" + piece * n + tail + struct.pack(">I", adler & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", side, height, bit_depth, colour_type, 0, 0, 0)
    return PNG_MAGIC + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def png_chunks(data):
    i = 8
    out = []
    while i + 8 <= len(data):
        n = struct.unpack(">I", data[i:i + 4])[0]
        out.append((data[i + 4:i + 8], i, n))
        i += 12 + n
    return out


def png_patch_ihdr(png, width=None, height=None):
    """Rewrites IHDR's width/height and recomputes its CRC (a valid header)."""
    b = bytearray(png)
    tag, pos, n = png_chunks(png)[0]
    assert tag == b"IHDR"
    if width is not None:
        b[pos + 8:pos + 12] = struct.pack(">I", width)
    if height is not None:
        b[pos + 12:pos + 16] = struct.pack(">I", height)
    b[pos + 8 + n:pos + 12 + n] = struct.pack(">I", zlib.crc32(bytes(b[pos + 4:pos + 8 + n])) & 0xFFFFFFFF)
    return bytes(b)


def png_bad_crc(png, which):
    b = bytearray(png)
    for tag, pos, n in png_chunks(png):
        if tag == which:
            b[pos + 8 + n] ^= 0xFF
            return bytes(b)
    raise ValueError(which)


def jpeg_segments(data):
    """[(marker, offset, length)] up to and including SOS; and the scan start."""
    i = 2
    out = []
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            raise ValueError("not a marker at %d" % i)
        m = data[i + 1]
        n = struct.unpack(">H", data[i + 2:i + 4])[0]
        out.append((m, i, n))
        if m == 0xDA:
            return out, i + 2 + n
        i += 2 + n
    raise ValueError("no SOS")


def jpeg_flip_scan(jpeg, seed, count=None, block=None):
    segs, scan = jpeg_segments(jpeg)
    b = bytearray(jpeg)
    if block:
        for p in range(scan, min(scan + block, len(b) - 2)):
            b[p] ^= 0x55
    else:
        r = random.Random(seed)
        for _ in range(count):
            b[r.randrange(scan, len(b) - 2)] ^= 0xFF
    return bytes(b)


def jpeg_flip_dht(jpeg, part):
    segs, _ = jpeg_segments(jpeg)
    m, pos, n = next(s for s in segs if s[0] == 0xC4)
    b = bytearray(jpeg)
    lo, hi = (pos + 5, pos + 5 + 16) if part == "counts" else (pos + 5 + 16, pos + 2 + n)
    for p in range(lo, hi):
        b[p] ^= 0xFF
    return bytes(b)


def jpeg_zero_dim(jpeg, which):
    segs, _ = jpeg_segments(jpeg)
    m, pos, n = next(s for s in segs if s[0] in (0xC0, 0xC1, 0xC2))
    b = bytearray(jpeg)
    off = pos + 5 if which == "height" else pos + 7
    b[off:off + 2] = b"\x00\x00"
    return bytes(b)


def gif_zero_width(gif):
    b = bytearray(gif)
    b[6:8] = b"\x00\x00"  # logical screen width
    i = 13 + ((3 << ((b[10] & 7) + 1)) if b[10] & 0x80 else 0)
    while i < len(b) and b[i] == 0x21:  # skip extension blocks
        i += 2
        while i < len(b) and b[i]:
            i += b[i] + 1
        i += 1
    if i < len(b) and b[i] == 0x2C:
        b[i + 5:i + 7] = b"\x00\x00"  # image descriptor width
    else:
        raise ValueError("no image descriptor")
    return bytes(b)


def bmp_zero_width(bmp):
    b = bytearray(bmp)
    b[18:22] = b"\x00\x00\x00\x00"
    return bytes(b)


def pil_decodes(data):
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.convert("RGB")
        return True
    except Exception:
        return False


def encode(im, fmt, **kw):
    bio = io.BytesIO()
    im.save(bio, fmt, **kw)
    return bio.getvalue()


def build_inputs(shared_dir):
    photos = {}
    for name in ("dog", "lion", "giraffe", "monkey"):
        path = os.path.join(shared_dir, name + ".jpg")
        with open(path, "rb") as f:
            photos[name] = f.read()
    dog = photos["dog"]
    small = Image.open(io.BytesIO(dog)).convert("RGB").resize((320, 240), Image.BILINEAR)
    small_jpeg = encode(small, "JPEG", quality=90)
    png = encode(small, "PNG")
    gif = encode(small, "GIF")
    bmp = encode(small, "BMP")
    return photos, small_jpeg, png, gif, bmp


def heif_encode(png, avif=False):
    """heif-enc (Debian libheif-examples) of a PNG: HEIC, or AVIF."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "in.png"), os.path.join(tmp, "out.avif" if avif else "out.heic")
        with open(src, "wb") as f:
            f.write(png)
        subprocess.run(["heif-enc", "-q", "60"] + (["-A"] if avif else []) + [src, "-o", out], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out, "rb") as f:
            return f.read()


def heif_patch_ispe(heif, width, height):
    """The primary image's declared size (ispe box) replaced: a lying header."""
    at = heif.index(b"ispe") + 8  # type, then version/flags
    return heif[:at] + struct.pack(">II", width, height) + heif[at + 8:]


def webp_header_only(width, height):
    """A VP8X header declaring a width x height canvas, and no image data."""
    chunk = struct.pack("<I", 0) + struct.pack("<I", width - 1)[:3] + struct.pack("<I", height - 1)[:3]
    return b"RIFF" + struct.pack("<I", 4 + 8 + len(chunk)) + b"WEBPVP8X" + struct.pack("<I", len(chunk)) + chunk


def tiff_with_ifd(entries):
    """A little-endian TIFF: 4 bytes of data at offset 8, then one IFD of
    (tag, type, count, value) entries, in tag order."""
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        ifd += struct.pack("<HHI", tag, typ, count) + (struct.pack("<HH", value, 0) if typ == 3
                                                        else struct.pack("<I", value))
    return b"II*\0" + struct.pack("<I", 12) + b"\1\2\3\0" + ifd + b"\0\0\0\0"


def tiff_header_only(width, height):
    """A TIFF whose IFD declares width x height RGB and 3 bytes of strip."""
    return tiff_with_ifd([(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1),
                          (262, 3, 1, 2), (273, 4, 1, 8), (277, 3, 1, 3), (278, 4, 1, height), (279, 4, 1, 3)])


def tiff_huge_tile(width, height, tile):
    """A small tiled TIFF whose one tile is declared tile x tile (fuzz_tiff's
    12.9 GB tile buffer)."""
    return tiff_with_ifd([(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1),
                          (262, 3, 1, 2), (277, 3, 1, 3), (322, 4, 1, tile), (323, 4, 1, tile),
                          (324, 4, 1, 8), (325, 4, 1, 3)])


def new_format_cases(png):
    """Issue 13's formats: truncated files and headers declaring huge images."""
    small = Image.open(io.BytesIO(png)).convert("RGB")
    files = {"WebP": encode(small, "WEBP", quality=80), "TIFF": encode(small, "TIFF", compression="tiff_lzw"),
             "HEIC": heif_encode(png), "AVIF": heif_encode(png, avif=True)}
    cases = []
    for fmt, data in files.items():
        cases.append((f"{fmt} truncated at 100 bytes", data[:100], {400}, ""))
        cases.append((f"{fmt} truncated at half", data[:len(data) // 2], {400}, ""))
    cases += [
        ("WebP header 16384x16384 (tiny file)", webp_header_only(16384, 16384), {413}, ""),
        ("TIFF header 100000x100000 (tiny file)", tiff_header_only(100000, 100000), {413}, ""),
        ("TIFF 24x16 with a 65536x65536 tile (tiny file)", tiff_huge_tile(24, 16, 65536), {400}, ""),
        ("HEIC ispe 30000x30000", heif_patch_ispe(files["HEIC"], 30000, 30000), {413}, ""),
        ("HEIC ispe 70000x70000 (past libheif's own limit)", heif_patch_ispe(files["HEIC"], 70000, 70000),
         {413}, ""),
        ("AVIF ispe 30000x30000", heif_patch_ispe(files["AVIF"], 30000, 30000), {413}, ""),
        ("TIFF float samples (unsupported variant)", encode(small.convert("F"), "TIFF"), {415}, ""),
    ]
    return cases


def malformed_cases(photos, small_jpeg, png, gif, bmp):
    """[(name, bytes, expected statuses, note)]: every one from a real image."""
    dog, lion = photos["dog"], photos["lion"]
    html = (b"<!DOCTYPE html><html><body><img src=\"data:image/jpeg;base64,"
            + __import__("base64").b64encode(small_jpeg[:600]) + b"\"></body></html>")
    text = b"This is the text of a note about " + b"dog.jpg " * 40 + b"\n"
    cases = [
        ("empty body", b"", {400}, ""),
        ("text file named .jpg", text, {415}, ""),
        ("HTML file named .jpg", html, {415}, ""),
    ]
    for fmt, data in (("JPEG", dog), ("PNG", png), ("GIF", gif), ("BMP", bmp)):
        cases.append((f"{fmt} truncated at 100 bytes", data[:100], {400}, ""))
        cases.append((f"{fmt} truncated at half", data[:len(data) // 2], {400}, ""))
    cases += [
        ("JPEG scan data: 2000 bytes xor 0x55 after SOS", jpeg_flip_scan(dog, 0, block=2000), {400}, ""),
        ("JPEG scan data: 32 random bytes flipped", jpeg_flip_scan(dog, 1, count=32), {400}, ""),
        ("JPEG DHT counts flipped", jpeg_flip_dht(dog, "counts"), {400}, ""),
        ("JPEG DHT symbol values flipped", jpeg_flip_dht(dog, "values"), {400}, ""),
        ("PNG bad IHDR CRC", png_bad_crc(png, b"IHDR"), {400}, ""),
        ("PNG bad IDAT CRC", png_bad_crc(png, b"IDAT"), {400}, ""),
        ("PNG bad IEND CRC", png_bad_crc(png, b"IEND"), {400}, ""),
        ("PNG header 65000x65000 (tiny file)", png_header_only(65000, 65000), {413}, ""),
        ("PNG header 100000x100000 (tiny file)", png_header_only(100000, 100000), {413}, ""),
        ("PNG header 10000x10000 RGB (tiny file)", png_header_only(10000, 10000), {413}, ""),
        ("PNG header 20000x20000 RGB (tiny file)", png_header_only(20000, 20000), {413}, ""),
        ("PNG width 0", png_patch_ihdr(png, width=0), {400}, ""),
        ("PNG height 0", png_patch_ihdr(png, height=0), {400}, ""),
        ("JPEG height 0 in SOF", jpeg_zero_dim(dog, "height"), {400}, ""),
        ("JPEG width 0 in SOF", jpeg_zero_dim(dog, "width"), {400}, ""),
        ("GIF width 0", gif_zero_width(gif), {400}, ""),
        ("BMP width 0", bmp_zero_width(bmp), {400}, ""),
        ("JPEG magic + scan bytes of another photo", dog[:3] + lion[5000:9000],
         {400, 413}, "413 ok: garbage header size"),
        ("PNG magic + photo bytes", PNG_MAGIC + lion[5000:9000],
         {400, 413}, "413 ok: garbage header size"),
        ("GIF89a magic + photo bytes", b"GIF89a" + lion[5000:9000],
         {400, 413}, "413 ok: garbage header size"),
        ("BMP magic + photo bytes", b"BM" + lion[5000:9000],
         {400, 413}, "413 ok: garbage header size"),
    ]
    cases += new_format_cases(png)
    cases += bmp_pnm_malformed_cases(png)
    out = []
    for name, data, want, note in cases:
        # PIL is the reference decoder: say when it accepts a "malformed" file.
        # The server's contract is PIL's answer, so a 200 is right too there.
        if data and not name.startswith(("text", "HTML", "TIFF float")) and pil_decodes(data):
            note = (note + " PIL decodes it: 200 ok too").strip()
            want = set(want) | {200}
        out.append((name, data, want, note))
    return out


def bmp_pnm_malformed_cases(png):
    """Truncated and oversized-header BMP (RLE8) and PNM files, from the same
    small photo: 400 and 413 with a JSON error, the server alive after each."""
    import numpy as np
    import bmp_pnm_cases  # tests/, next to this file
    small = Image.open(io.BytesIO(png)).convert("RGB")
    pal_img = small.quantize(256)
    idx = np.asarray(pal_img)
    pal = np.asarray(pal_img.getpalette()[:768], dtype=np.uint8).reshape(-1, 3)
    w, h = small.size
    rle = bmp_pnm_cases.bmp(w, h, 8, pixels=bmp_pnm_cases.rle8_encode(idx), palette=pal, compression=1)
    check(pil_decodes(rle), "the RLE8 BMP made for the malformed cases is one PIL decodes")
    rle_huge = rle[:18] + struct.pack("<ii", 30000, 30000) + rle[26:]
    ppm = encode(small, "PPM")
    plain = b"P3 %d %d 255\n" % (w, h) + b" ".join(b"%d" % v for v in small.tobytes()) + b"\n"
    return [
        ("BMP RLE8 truncated at half", rle[:len(rle) // 2], {400}, ""),
        ("BMP RLE8 ends early (end of bitmap)", rle[:-200] + b"\0\1", {400}, ""),
        ("BMP RLE8 header 30000x30000 (tiny file)", rle_huge, {413}, ""),
        ("PPM (P6) truncated at half", ppm[:len(ppm) // 2], {400}, ""),
        ("PPM plain (P3) truncated at half", plain[:len(plain) // 2] + b"\n", {400}, ""),
        ("PGM header 100000x100000 (tiny file)", b"P5 100000 100000 255\n" + b"\0" * 64, {413}, ""),
    ]


# ------------------------------------------------------------- sections -----

def section_malformed(server, inputs):
    photos, small_jpeg, png, gif, bmp = inputs
    for name, data, want, note in malformed_cases(photos, small_jpeg, png, gif, bmp):
        for how in ("multipart", "raw"):
            if how == "multipart":
                body, ctype = multipart([("image", "upload.jpg", data)])
            else:
                body, ctype = data, "application/octet-stream"
            status, hdrs, got, ms = timed_request(server, "POST", "/", body, {"Content-Type": ctype})
            if status == 200 and 200 in want:
                check(b'"class_id"' in got, f"{name} ({how}): a 200 is a classification ({got[:120]!r})")
            else:
                check(status in want and status != 200 and is_json_error(got),
                      f"{name} ({how}): want {sorted(want)} + JSON error, got {status} {got[:120]!r}")
            table.append((name, how, "/".join(map(str, sorted(want))), status, ms, note))
            check(healthy(server), f"server answers /health after {name} ({how})")


def section_huge_images(server, inputs):
    for label, big in (("gray 1-bit", png_big_valid(20000, 0, 1)), ("RGB 8-bit", png_big_valid(20000, 2, 8))):
        name = "valid 20000x20000 PNG, %s, %d KB" % (label, len(big) // 1024)
        check(len(big) < 2 << 20, f"the {name} is a small file")
        for how in ("multipart", "raw"):
            if how == "multipart":
                body, ctype = multipart([("image", "big.png", big)])
            else:
                body, ctype = big, "image/png"
            rss0 = server.rss_kib()
            status, _, got, ms = timed_request(server, "POST", "/", body, {"Content-Type": ctype})
            rss1 = server.rss_kib()
            check(status == 413 and is_json_error(got), f"{name} ({how}): want 413, got {status} {got[:120]!r}")
            check(ms < 1000, f"{name} ({how}) answered in {ms:.0f} ms (< 1000: not decoded)")
            check(rss1 - rss0 < 200 * 1024, f"{name} ({how}): RSS grew {rss1 - rss0} KiB (< 200 MiB: not decoded)")
            table.append((name, how, "413", status, ms, "RSS +%d KiB" % (rss1 - rss0)))
            check(healthy(server), f"/health after the {name} ({how})")
    # Under the pixel limit, but resizing the short side to 255 would make
    # the long side 2.3 billion pixels: the client's image, so 413, not 500.
    tall = png_big_valid(1, 0, 1, height=9000000)
    name = "valid 1x9000000 PNG (too elongated to resize), %d KB" % (len(tall) // 1024)
    for how in ("multipart", "raw"):
        body, ctype = multipart([("image", "tall.png", tall)]) if how == "multipart" else (tall, "image/png")
        status, _, got, ms = timed_request(server, "POST", "/", body, {"Content-Type": ctype})
        check(status == 413 and is_json_error(got) and b"elongated" in got,
              f"{name} ({how}): want 413 + JSON error naming the cause, got {status} {got[:160]!r}")
        check(ms < 1000, f"{name} ({how}) answered in {ms:.0f} ms (< 1000: not decoded)")
        table.append((name, how, "413", status, ms, ""))
        check(healthy(server), f"/health after the {name} ({how})")


def section_big_bodies(server):
    size = 50 << 20
    rnd = random.Random(50)
    chunk = bytes(rnd.getrandbits(8) for _ in range(1 << 16))  # random bytes, repeated to 50 MiB

    def chunks_plain():
        for _ in range(size // len(chunk)):
            yield chunk

    # Content-Length announces 50 MiB: the answer must come before the body is read.
    for ctype in ("application/octet-stream", "multipart/form-data; boundary=xyz"):
        head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {size}\r\n\r\n").encode()
        status, hdrs, body, ms, sent, closed = streaming_upload(server.port, head, chunks_plain())
        name = "50 MiB random bytes, Content-Length"
        how = "raw" if ctype.startswith("application") else "multipart"
        check(status == 413 and is_json_error(body), f"{name} ({how}): want 413 JSON, got {status} {body[:100]!r}")
        check(ms < 1000, f"{name} ({how}): 413 in {ms:.0f} ms (< 1000)")
        check(closed, f"{name} ({how}): the server closes the connection instead of reading 50 MiB")
        table.append((name, how, "413", status, ms, f"{sent >> 20} MiB sent by then, closed={closed}"))
        check(healthy(server), f"/health after {name} ({how})")

    # Chunked: no length up front, the limit must be enforced while streaming.
    def chunks_chunked():
        for _ in range(size // len(chunk)):
            yield b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        yield b"0\r\n\r\n"

    for ctype in ("application/octet-stream", "multipart/form-data; boundary=xyz"):
        head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        rss0 = server.rss_kib()
        status, hdrs, body, ms, sent, closed = streaming_upload(server.port, head, chunks_chunked())
        rss1 = server.rss_kib()
        name = "50 MiB random bytes, chunked (no Content-Length)"
        how = "raw" if ctype.startswith("application") else "multipart"
        check(status == 413 and is_json_error(body), f"{name} ({how}): want 413 JSON, got {status} {body[:100]!r}")
        check(ms < 3000, f"{name} ({how}): 413 in {ms:.0f} ms (< 3000)")
        check(rss1 - rss0 < 64 << 10, f"{name} ({how}): the body is not buffered (RSS +{rss1 - rss0} KiB < 64 MiB)")
        table.append((name, how, "413", status, ms, f"{sent >> 20} MiB sent by then, closed={closed}, RSS +{rss1 - rss0} KiB"))
        check(healthy(server), f"/health after {name} ({how})")


def section_multipart(server, inputs):
    photos = inputs[0]
    dog = photos["dog"]
    cases = []
    body, ctype = multipart([("file", "dog.jpg", dog), ("note", None, b"hello")])
    cases.append(("multipart without the image field", body, ctype, {400}))
    body, _ = multipart([("image", "dog.jpg", dog)], boundary="realboundary123")
    cases.append(("multipart, boundary in header differs from body", body,
                  "multipart/form-data; boundary=otherboundary456", {400}))
    cases.append(("multipart, no boundary parameter", body, "multipart/form-data", {400}))
    body, ctype = multipart([("image", "dog.jpg", dog)])
    cut = body[: len(body) // 2]
    cases.append(("multipart, part cut off (no closing boundary)", cut, ctype, {400}))
    cut2 = body[: body.rfind(b"\r\n--")]
    cases.append(("multipart, whole image but no closing boundary", cut2, ctype, {400}))
    garbage = dog[2000:6000]
    cases.append(("multipart content type, body is JPEG bytes", garbage, ctype, {400}))
    for name, body, ctype, want in cases:
        status, _, got, ms = timed_request(server, "POST", "/", body, {"Content-Type": ctype})
        check(status in want and is_json_error(got), f"{name}: want {sorted(want)} JSON error, got {status} {got[:120]!r}")
        table.append((name, "multipart", "/".join(map(str, sorted(want))), status, ms, ""))
        check(healthy(server), f"/health after {name}")


def section_aborted(server, inputs):
    dog = inputs[0]["dog"]
    body, ctype = multipart([("image", "dog.jpg", dog)])
    for how, payload_body, ctype_ in (("raw", dog, "image/jpeg"), ("multipart", body, ctype)):
        part = payload_body[: len(payload_body) // 3]
        head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ctype_}\r\n"
                f"Content-Length: {len(payload_body) * 2}\r\n\r\n").encode()
        # 1: the client closes the connection outright.
        t0 = time.time()
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(head + part)
        time.sleep(0.1)
        s.close()
        ms = (time.time() - t0) * 1000
        table.append(("Content-Length > body, then close()", how, "no answer", "closed", ms, "client gone"))
        check(healthy(server), f"/health after an aborted upload ({how}, close)")
        # 2: half-close: the server sees EOF mid-body and may still answer.
        t0 = time.time()
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(head + part)
        s.shutdown(socket.SHUT_WR)
        raw, closed = read_response(s, 5)
        s.close()
        ms = (time.time() - t0) * 1000
        status, _, got = parse_response(raw)
        check((status is None and closed) or (status is not None and 400 <= status < 500),
              f"aborted upload ({how}, half-close): closed or 4xx, got {status} closed={closed} {raw[:80]!r}")
        table.append(("Content-Length > body, then shutdown(WR)", how, "4xx or closed",
                      status if status is not None else "closed", ms, ""))
        check(healthy(server), f"/health after an aborted upload ({how}, half-close)")


def section_protocol(server, inputs):
    dog = inputs[0]["dog"]
    cases = [
        ("garbage request line: 200 bytes of dog.jpg", dog[:200].replace(b"\r\n", b"..") + b"\r\n\r\n", (400, 499)),
        ("garbage request line: 'FOO BAR BAZ QUX'", b"FOO BAR BAZ QUX\r\nHost: x\r\n\r\n", (400, 499)),
        ("request line without version", b"GET /health\r\nHost: x\r\n\r\n", (400, 499)),
        ("HTTP/1.1 without Host", b"GET /health HTTP/1.1\r\n\r\n", (400, 499)),
        ("header line without colon", b"GET /health HTTP/1.1\r\nHost: x\r\nthis is not a header\r\n\r\n", (400, 499)),
        ("100 KB header value", b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (100 << 10) + b"\r\n\r\n",
         (400, 499)),
        ("2000 headers", b"GET /health HTTP/1.1\r\nHost: x\r\n" +
         b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 40) for i in range(2000)) + b"\r\n", (400, 499)),
        ("100 KB URL", b"GET /" + b"a" * (100 << 10) + b" HTTP/1.1\r\nHost: x\r\n\r\n", (400, 499)),
    ]
    for name, payload, (lo, hi) in cases:
        status, hdrs, body, ms = raw_exchange(server.port, payload, timeout=10)
        check(status is not None and lo <= status <= hi, f"{name}: want 4xx from libmicrohttpd, got {status} {body[:80]!r}")
        table.append((name, "raw socket", "4xx (MHD)", status, ms, "JSON body" if is_json_error(body) else "body not JSON"))
        check(healthy(server), f"/health after {name}")
    # An unknown HTTP version: 505 is the right answer for it.
    status, _, body, ms = raw_exchange(server.port, b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n")
    check(status in (400, 505), f"HTTP/9.9: want 400 or 505, got {status}")
    table.append(("request line with HTTP/9.9", "raw socket", "400/505 (MHD)", status, ms,
                  "JSON body" if is_json_error(body) else "body not JSON"))
    check(healthy(server), "/health after HTTP/9.9")


def section_slowloris(server, conn_timeout, inputs):
    """Slow clients must be cut off by --connection-timeout-s while others are served."""
    small_jpeg = inputs[1]
    slow = []

    def opener(kind):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        if kind == "slow headers":
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        elif kind == "slow body":
            s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\nContent-Length: 1000000\r\n\r\n")
        else:  # idle: a partial request line, then silence
            s.sendall(b"GET /hea")
        s.setblocking(False)
        return {"kind": kind, "sock": s, "t0": time.time(), "closed_at": None}

    for kind in ("slow headers",) * 4 + ("slow body",) * 2 + ("idle",) * 2:
        slow.append(opener(kind))
    limit = conn_timeout * 3 + 6
    t_start = time.time()
    served = []  # (what, status, ms)
    tick = 0
    while time.time() - t_start < limit and any(c["closed_at"] is None for c in slow):
        tick += 1
        for c in slow:
            if c["closed_at"] is not None:
                continue
            s = c["sock"]
            try:
                data = s.recv(4096)
                if not data:
                    c["closed_at"] = time.time()
                    continue
                c.setdefault("answer", data)
            except BlockingIOError:
                pass
            except OSError:
                c["closed_at"] = time.time()
                continue
            if c["kind"] != "idle":
                try:
                    s.send(b"a" if c["kind"] == "slow headers" else small_jpeg[tick:tick + 1])
                except BlockingIOError:
                    pass
                except OSError:
                    c["closed_at"] = time.time()
        # Other clients meanwhile.
        st, _, _, ms = timed_request(server, "GET", "/health", timeout=5)
        served.append(("GET /health", st, ms))
        if tick % 3 == 0:
            st, _, _, ms = timed_request(server, "POST", "/", small_jpeg, {"Content-Type": "image/jpeg"}, timeout=10)
            served.append(("POST /", st, ms))
        time.sleep(1.0)
    for c in slow:
        try:
            c["sock"].close()
        except OSError:
            pass
    for kind in ("slow headers", "slow body", "idle"):
        group = [c for c in slow if c["kind"] == kind]
        lived = [(c["closed_at"] or time.time()) - c["t0"] for c in group]
        closed = all(c["closed_at"] is not None for c in group)
        check(closed and max(lived) <= conn_timeout + 3,
              f"{kind} ({len(group)} connections, 1 byte/s): closed within connection_timeout_s={conn_timeout} + 3 s "
              f"(lived {', '.join('%.1f' % x for x in lived)} s{'' if closed else ', still open at the end'})")
        answers = {c.get("answer", b"")[:12] for c in group}
        table.append((f"slowloris: {kind} x{len(group)}", "raw socket",
                      f"closed <= {conn_timeout + 3} s",
                      "closed after %.1f s" % max(lived) if closed else "OPEN after %.0f s" % max(lived),
                      max(lived) * 1000, ("answered: " + ",".join(repr(a) for a in answers if a)) if any(answers) else ""))
    ok = [x for x in served if x[1] == 200 and x[2] < 3000]
    check(len(ok) == len(served) and served, f"other clients served during the slowloris: {len(ok)}/{len(served)} "
          f"200 in < 3 s (worst {max((x[2] for x in served), default=0):.0f} ms)")
    table.append(("other clients during slowloris", "http.client", "all 200", f"{len(ok)}/{len(served)} 200",
                  max((x[2] for x in served), default=0), "worst latency"))


def concurrent_posts(server, bodies, headers, timeout=60):
    """Fires every body at once (one connection each). Returns [(status, headers, body, ms)]."""
    results = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies), timeout=30)

    def one(i):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
        try:
            conn.connect()
            barrier.wait()
            t0 = time.time()
            conn.request("POST", "/", body=bodies[i], headers=headers)
            r = conn.getresponse()
            data = r.read()
            results[i] = (r.status, {k.lower(): v for k, v in r.getheaders()}, data, (time.time() - t0) * 1000)
        except Exception as e:  # noqa: BLE001 - a failure is recorded, not raised
            results[i] = (None, {}, repr(e).encode(), 0)
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 35)
    return [r if r is not None else (None, {}, b"thread did not finish", 0) for r in results]


def pct(values, p):
    if not values:
        return 0.0
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def section_overload(args, inputs):
    small_jpeg = inputs[1]
    server = start(args, ["--queue-capacity", "2", "--max-batch", "1", "--http-threads", "2", "--warmup", "1"])
    try:
        res = concurrent_posts(server, [small_jpeg] * 40, {"Content-Type": "image/jpeg"})
        codes = [r[0] for r in res]
        n200, n503 = codes.count(200), codes.count(503)
        lat503 = [r[3] for r in res if r[0] == 503]
        check(n503 >= 1, f"overload (queue 2, batch 1, 40 concurrent): some 503 (got {n503})")
        check(n200 >= 1, f"overload: some 200 (got {n200})")
        check(n200 + n503 == 40, f"overload: only 200 and 503 (got {sorted(set(map(str, codes)))})")
        check(all(r[1].get("retry-after") for r in res if r[0] == 503), "overload: every 503 has Retry-After")
        check(all(is_json_error(r[2]) for r in res if r[0] == 503), "overload: every 503 has a JSON error")
        check(not lat503 or max(lat503) < 1000, f"overload: 503s answered in < 1 s (max {max(lat503, default=0):.0f} ms)")
        table.append(("overload: 40 concurrent, queue 2, batch 1", "raw JPEG 320x240", "200 + 503 (<1 s)",
                      f"{n200}x200 {n503}x503", max(lat503, default=0),
                      "503 p50 %.0f ms, max %.0f ms" % (pct(lat503, 50), max(lat503, default=0))))
        st, _, body, ms = timed_request(server, "POST", "/", small_jpeg, {"Content-Type": "image/jpeg"})
        check(st == 200 and b"class_id" in body and ms < 2000,
              f"overload: a request right after is answered 200 at once (got {st} in {ms:.0f} ms)")
        check(server.request("GET", "/ready")[0] == 200, "overload: /ready is 200 right after")
    finally:
        rc = server.stop()
        check(rc == 0, f"overload server exits 0 on SIGTERM (got {rc})")


def section_request_timeout(args, inputs):
    small_jpeg = inputs[1]
    server = start(args, ["--request-timeout-ms", "1", "--max-batch", "1", "--http-threads", "2", "--warmup", "1"])
    try:
        res = concurrent_posts(server, [small_jpeg] * 20, {"Content-Type": "image/jpeg"})
        codes = [r[0] for r in res]
        n200, n503 = codes.count(200), codes.count(503)
        check(n503 >= 1, f"--request-timeout-ms 1 under load: some 503 (got {n503}, statuses {codes})")
        check(n200 + n503 == 20, f"--request-timeout-ms 1: only 200 and 503 (got {sorted(set(map(str, codes)))})")
        check(all(r[1].get("retry-after") and is_json_error(r[2]) for r in res if r[0] == 503),
              "--request-timeout-ms 1: every 503 has Retry-After and a JSON error")
        msgs = {json.loads(r[2]).get("error") for r in res if r[0] == 503 and is_json_error(r[2])}
        lat = [r[3] for r in res if r[0] == 503]
        table.append(("request_timeout_ms=1, 20 concurrent", "raw JPEG 320x240", "503 for late ones",
                      f"{n200}x200 {n503}x503", max(lat, default=0), "; ".join(sorted(msgs))[:60]))
        st = None
        for _ in range(5):
            st, _, _, _ = timed_request(server, "POST", "/", small_jpeg, {"Content-Type": "image/jpeg"})
            if st == 200:
                break
            time.sleep(0.2)
        check(st == 200, f"--request-timeout-ms 1: an unloaded request is still served (got {st})")
    finally:
        rc = server.stop()
        check(rc == 0, f"request-timeout server exits 0 on SIGTERM (got {rc})")


def wait_in_flight(server, n, timeout=10):
    """Polls /metrics until at least n requests (besides the poll) are in flight."""
    deadline = time.time() + timeout
    seen = 0
    while time.time() < deadline:
        st, _, body = server.request("GET", "/metrics", timeout=5)
        if st == 200:
            v = metric_value(body.decode(), "inferd_requests_in_flight")
            seen = int(v or 0) - 1
            if seen >= n:
                return seen
        time.sleep(0.05)
    return seen


def try_new_connection(port, timeout=2.0):
    """'refused', or what happened to a GET /health on a new connection."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except ConnectionRefusedError:
        return "refused", None
    except OSError as e:
        return "error " + type(e).__name__, None
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        raw, closed = read_response(s, timeout)
    except OSError:
        raw, closed = b"", True
    finally:
        s.close()
    status, _, _ = parse_response(raw)
    if status is not None:
        return "answered", status
    return ("accepted then closed" if closed else "accepted, no answer in %.0f s" % timeout), None


def section_graceful(args, inputs):
    photos = inputs[0]
    # 32 images must drain here, however slow the machine (an ASan build on a
    # busy CI box took over the 10 s default): what is tested is that every
    # request in flight finishes and the exit is 0. The bound itself is
    # section_drain_timeout's.
    server = start(args, ["--http-threads", "2", "--max-batch", "4", "--warmup", "1", "--drain-timeout-s", "120"])
    try:
        singles = {}
        for name in ("dog", "lion", "giraffe", "monkey"):
            st, _, body = server.json("POST", "/", photos[name], {"Content-Type": "image/jpeg"})
            singles[name] = body if st == 200 else None
        body, ctype = multipart([("image", f"{n}.jpg", photos[n]) for n in ("dog", "lion", "giraffe", "monkey")])
        results = [None] * 8
        sent = threading.Semaphore(0)

        def one(i):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
            try:
                conn.request("POST", "/", body=body, headers={"Content-Type": ctype})
                sent.release()
                r = conn.getresponse()
                results[i] = (r.status, r.read())
            except Exception as e:  # noqa: BLE001
                sent.release()
                results[i] = (None, repr(e).encode())
            finally:
                conn.close()

        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        for _ in range(8):
            sent.acquire(timeout=30)
        inflight = wait_in_flight(server, 8)
        check(inflight >= 8, f"graceful: 8 slow requests in flight before SIGTERM (saw {inflight})")
        t_sig = time.time()
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        what, st = try_new_connection(server.port)
        check(what == "refused", f"graceful: a new connection during the drain is refused (got: {what} {st or ''})")
        for t in threads:
            t.join(60)
        try:
            rc = server.proc.wait(30)
        except subprocess.TimeoutExpired:
            rc = None
        t_exit = time.time() - t_sig
        codes = [r[0] if r else None for r in results]
        check(codes == [200] * 8, f"graceful: all 8 in-flight requests complete with 200 (got {codes})")
        want = [singles[n] for n in ("dog", "lion", "giraffe", "monkey")]
        good = 0
        for r in results:
            try:
                good += r is not None and json.loads(r[1]) == want
            except ValueError:
                pass
        check(good == 8, f"graceful: each drained answer equals the single-image answers ({good}/8)")
        check(rc == 0, f"graceful: exit code 0 after the drain (got {rc}, {t_exit:.1f} s after SIGTERM)")
        table.append(("SIGTERM with 8x4-image requests in flight", "multipart", "8x200, refused, exit 0",
                      f"{codes.count(200)}x200, {what}, exit {rc}", t_exit * 1000, "drain time"))
    finally:
        server.kill()


def long_requests(server, photos, n, images):
    names = ("dog", "lion", "giraffe", "monkey")
    body, ctype = multipart([("image", f"{names[i % 4]}.jpg", photos[names[i % 4]]) for i in range(images)])
    results = [None] * n

    def one(i):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        try:
            conn.request("POST", "/", body=body, headers={"Content-Type": ctype})
            r = conn.getresponse()
            results[i] = r.status
            r.read()
        except Exception as e:  # noqa: BLE001
            results[i] = type(e).__name__
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    return threads, results


def section_aborted_then_sigterm(args, inputs):
    """Uploads the client abandons (headers + part of the body, then close)
    must be released at once: not count as in flight until the connection
    timeout, nor hold up a SIGTERM drain."""
    photos = inputs[0]
    server = start(args, ["--http-threads", "2", "--warmup", "1"])  # default connection (30 s) and drain (10 s) timeouts
    try:
        dog = photos["dog"]
        body, ctype = multipart([("image", "dog.jpg", dog)])
        n = 0
        for i in range(12):
            payload, ct = (dog, "image/jpeg") if i % 2 else (body, ctype)
            cut = [0, 10, 1000, 30000][i % 4]
            head = (f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {ct}\r\n"
                    f"Content-Length: {len(payload) + 100}\r\n\r\n").encode()
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
                s.sendall(head + payload[:cut])
                if i % 3 == 0:
                    s.shutdown(socket.SHUT_WR)
            n += 1
        leaked = wait_in_flight_at_most(server, 0, timeout=2.0)
        check(leaked == 0, f"{n} aborted uploads (data and FIN together) are released within 2 s "
              f"(still in flight: {leaked}; connection_timeout_s is 30)")
        table.append((f"{n} aborted uploads, then in-flight count", "raw socket", "0 after <= 2 s",
                      f"{leaked} still in flight", 2000, "inferd_requests_in_flight - 1"))
        t0 = time.time()
        server.proc.send_signal(signal.SIGTERM)
        try:
            rc = server.proc.wait(30)
        except subprocess.TimeoutExpired:
            rc = None
        dt = time.time() - t0
        check(rc == 0 and dt < 3, f"SIGTERM right after aborted uploads: exit 0 at once (rc {rc} after {dt:.1f} s)")
        table.append(("SIGTERM after aborted uploads, idle server", "-", "exit 0 < 3 s", f"exit rc {rc}", dt * 1000,
                      "drain_timeout_s 10"))
    finally:
        server.kill()


def wait_in_flight_at_most(server, n, timeout):
    """Polls /metrics until at most n requests (besides the poll) are in flight; returns the last count."""
    deadline = time.time() + timeout
    seen = None
    while time.time() < deadline:
        st, _, body = server.request("GET", "/metrics", timeout=5)
        if st == 200:
            seen = int(metric_value(body.decode(), "inferd_requests_in_flight") or 0) - 1
            if seen <= n:
                return seen
        time.sleep(0.1)
    return seen


def section_drain_timeout(args, inputs):
    photos = inputs[0]
    server = start(args, ["--drain-timeout-s", "2", "--max-batch", "4", "--http-threads", "2", "--warmup", "1"])
    try:
        threads, results = long_requests(server, photos, 4, 32)
        inflight = wait_in_flight(server, 4, timeout=20)
        check(inflight >= 4, f"drain timeout: 4 long requests in flight (saw {inflight})")
        t0 = time.time()
        server.proc.send_signal(signal.SIGTERM)
        try:
            rc = server.proc.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        dt = time.time() - t0
        check(rc is not None and 1.5 <= dt <= 5, f"--drain-timeout-s 2 bounds the drain (exited after {dt:.1f} s, rc {rc})")
        tail = [ln.strip() for ln in server.log_lines[-6:] if " access " not in ln]
        check(rc == 1, f"a drain that timed out exits with status 1, not a crash or 0 (got {rc}; log tail: {tail})")
        for t in threads:
            t.join(10)
        check(all(not t.is_alive() for t in threads), "drain timeout: no client is left hanging after exit")
        table.append(("SIGTERM, drain-timeout-s 2, 4x32-image requests", "multipart", "exit ~2 s, rc 1",
                      f"exit rc {rc}, clients {results}", dt * 1000, ""))
    finally:
        server.kill()


def section_second_signal_and_limits(args, inputs):
    photos = inputs[0]
    server = start(args, ["--drain-timeout-s", "60", "--max-batch", "4", "--http-threads", "2", "--warmup", "1",
                          "--max-connections", "4", "--connection-timeout-s", "2"])
    try:
        # --max-connections 4: four idle connections use every slot.
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(4)]
        time.sleep(0.3)
        what, st = try_new_connection(server.port, timeout=1.0)
        check(st != 200, f"--max-connections 4 with 4 idle connections: a 5th is not served (got: {what} {st or ''})")
        table.append(("5th connection with max_connections=4 held idle", "raw socket", "not served",
                      f"{what} {st or ''}".strip(), 1000, ""))
        # --connection-timeout-s 2 frees them.
        time.sleep(3.0)
        closed = 0
        for s in idle:
            s.settimeout(0.5)
            try:
                closed += s.recv(100) == b""
            except OSError:
                closed += 1
            s.close()
        check(closed == 4, f"--connection-timeout-s 2 closes idle connections ({closed}/4 closed after 3.3 s)")
        st, _, _ = server.request("GET", "/health", timeout=10)
        check(st == 200, f"after the idle connections time out, a new client is served (got {st})")

        # A second SIGTERM during a long drain ends it at once.
        threads, results = long_requests(server, photos, 4, 32)
        inflight = wait_in_flight(server, 3, timeout=20)
        check(inflight >= 3, f"second signal: long requests in flight (saw {inflight})")
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        alive = server.proc.poll() is None
        check(alive, "second signal: the first SIGTERM starts a drain (still running 0.5 s later)")
        t0 = time.time()
        server.proc.send_signal(signal.SIGTERM)
        try:
            rc = server.proc.wait(10)
        except subprocess.TimeoutExpired:
            rc = None
        dt = time.time() - t0
        check(rc is not None and dt < 2, f"a second SIGTERM during the drain exits at once ({dt:.2f} s, rc {rc})")
        for t in threads:
            t.join(10)
        check(all(not t.is_alive() for t in threads), "second signal: no client is left hanging")
        table.append(("second SIGTERM during a 60 s drain", "multipart", "exit < 2 s", f"exit rc {rc}", dt * 1000,
                      f"clients {results}"))
    finally:
        server.kill()


def start(args, extra):
    return Server(args.binary, args.model, args.class_index, extra_args=extra, ready_timeout=300)


def print_table():
    print()
    print("%-58s %-17s %-22s %-26s %9s  %s" % ("case", "sent as", "expected", "got", "ms", "note"))
    print("-" * 150)
    for case, how, want, got, ms, note in table:
        print("%-58s %-17s %-22s %-26s %9.0f  %s" % (case[:58], how, want, str(got)[:26], ms, note))
    print()


def main():
    ap = server_test_parser(__doc__)
    ap.add_argument("--only", default="", help="comma-separated sections to run (default: all)")
    args = ap.parse_args()
    args.model = find_model(args.model)
    only = set(filter(None, args.only.split(",")))

    def want(section):
        return not only or section in only

    inputs = build_inputs(args.shared_dir)
    conn_timeout = 3
    main_server = None
    try:
        if want("malformed") or want("limits") or want("multipart") or want("aborted") or want("protocol") \
                or want("slowloris"):
            main_server = start(args, ["--http-threads", "2", "--connection-timeout-s", str(conn_timeout),
                                       "--warmup", "1"])
            if want("malformed"):
                section_malformed(main_server, inputs)
            if want("limits"):
                section_huge_images(main_server, inputs)
                section_big_bodies(main_server)
            if want("multipart"):
                section_multipart(main_server, inputs)
            if want("aborted"):
                section_aborted(main_server, inputs)
            if want("protocol"):
                section_protocol(main_server, inputs)
            if want("slowloris"):
                section_slowloris(main_server, conn_timeout, inputs)
            # Nothing leaked: only the /metrics request itself is in flight.
            time.sleep(0.5)
            st, _, body = main_server.request("GET", "/metrics")
            inflight = metric_value(body.decode(), "inferd_requests_in_flight") if st == 200 else None
            check(inflight == 1, f"after every bad request, inferd_requests_in_flight is 1 (got {inflight})")
            st, _, got = main_server.json("POST", "/", inputs[0]["dog"], {"Content-Type": "image/jpeg"})
            check(st == 200 and isinstance(got, dict) and "class_id" in got, f"a good image is still classified: {st} {got}")
            rc = main_server.stop()
            check(rc == 0, f"main server exits 0 on SIGTERM (got {rc})")
        if want("overload"):
            section_overload(args, inputs)
        if want("timeout"):
            section_request_timeout(args, inputs)
        if want("graceful"):
            section_graceful(args, inputs)
        if want("aborted2"):
            section_aborted_then_sigterm(args, inputs)
        if want("drain"):
            section_drain_timeout(args, inputs)
        if want("signal"):
            section_second_signal_and_limits(args, inputs)
    except Exception as e:  # noqa: BLE001 - report, then count it as a failure
        import traceback
        traceback.print_exc()
        check(False, f"unexpected exception: {e!r}")
    finally:
        if main_server is not None:
            main_server.kill()
            if results.failed:
                errs = [ln for ln in main_server.log_lines if " access " not in ln]
                print("".join(errs[-40:]))
    print_table()
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
