#!/usr/bin/python3
"""inferd's benchmark (issue 3): every number in one run, on one machine.

Normally started by scripts/bench.sh, which installs the tools, builds
Release into build-bench/ and finds the model and the image:

    /usr/bin/python3 bench/bench.py --build build-bench --model M --image dog.jpg [--quick]
        [--precision fp32|bf16|int8|both|all] [--model-int8 M8] [--batching-sweep] [--duration S]
        [--threads T] [--model-instances N] [--max-batch B] [--batch-delay-us D] [--config FILE]

What it measures (each against the same model file and the same image):

1. model limit: build-bench/model_bench with the server's threads and
   model_instances (resolved by `inferd --check-config`, i.e. config.json plus
   the flags above) at batch 1, 2, 4, 8;
2. preprocessing alone: build-bench/preprocess_bench (pipeline_prepare on the
   bytes in memory) vs PIL + torchvision on the same bytes, ms/image medians;
3. inferd under load: wrk + bench/wrk_post.lua (multipart field "image") at
   1, 4 and 16 connections, with the server's RSS before/during/after and its
   time from process start to GET /ready 200;
4. the baseline: bench/baseline_app.py under `gunicorn -w 2`, same load;
5. ratios and targets, PASS/FAIL (a report: the exit status is 0 unless
   something broke: a server died, wrk failed, a tool failed);
6. --precision both (fp32, bf16), int8, or all (fp32, bf16, int8): model
   limit and server again in each, plus agreement with fp32 through
   inferd-classify (int8 runs --model-int8, the file export_model.py
   --quantize int8 makes); for every precision the *pipeline limit*: CPUs /
   (bare forward CPU per image at the best batch + the server's measured
   non-model CPU per request), and the server's rate as a fraction of it;
6b. the lone-request boost (not with --quick): fp32 again with
   --lone-request-threads 1 (off), int8 with --lone-request-threads CPUs
   (on: off is its default), at 1 and 16 connections: single-client p50 and
   16-connection req/s with the boost on / off;
7. --batching-sweep: the server at 16 connections for max_batch 1, 2, 4, 8 x
   batch_delay_us 0, 2000.
8. --overload (alone, issue 16): capacity at 16 connections, then goodput
   (200s per second) at 64 and 256 connections against a small queue
   (--overload-queue, 4), the p99 of the 503s from the server's own access
   log, and 40 clients that give up after 100 ms (curl --max-time 0.1,
   default queue): how many of their images still reached the model. Written to
   bench-results/overload.md.

The report is printed (markdown) and written to bench-results/latest.md
(raw numbers in bench-results/latest.json, server logs in bench-results/logs/).
All traffic goes to 127.0.0.1.
"""

import argparse
import datetime
import glob
import http.client
import io
import json
import math
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONNECTIONS = (1, 4, 16)

# Targets of issue 16 (--overload).
TARGET_GOODPUT_RATIO = 0.9       # 200s/s at 64 and 256 conns / 200s/s at 16 conns
TARGET_ADMISSION_503_P99_MS = 10.0
OVERLOAD_CONNECTIONS = (64, 256)
ABANDONING_CLIENTS = 40

# Targets of issue 3.
TARGET_THROUGHPUT_RATIO = 0.85   # server images/s at 16 conns / bare model best images/s
TARGET_P50_OVERHEAD_MS = 10.0    # single-client p50 - bare batch-1 forward
TARGET_PREPROCESS_SPEEDUP = 2.0  # PIL+torchvision ms / C ms
TARGET_RSS_MB = 250.0
TARGET_READY_S = 3.0
# Targets of issue 14 (int8).
TARGET_INT8_BARE_SPEEDUP = 2.5      # int8 bare best img/s / fp32 bare best, same run
TARGET_INT8_SERVER_SPEEDUP = 2.2    # int8 server req/s at 16 conns / fp32's
TARGET_INT8_PIPELINE_FRACTION = 0.95  # int8 server req/s at 16 conns / int8 pipeline limit
TARGET_NON_MODEL_CPU_MS = 5.0       # server CPU per request besides the model forward
TARGET_INT8_P50_RATIO = 0.45        # int8 single-client p50 / fp32's
TARGET_INT8_RSS_MB = 300.0
TARGET_LONE_P50_RATIO = 0.85        # single-client p50, lone boost on / off (fp32)
TARGET_LONE_16_RATIO = 0.97         # 16-connection req/s, boost on / off: no drop beyond noise

errors = []  # things that broke (the exit status)


def log(*args):
    print("bench:", *args, file=sys.stderr, flush=True)


def broke(msg):
    errors.append(msg)
    log("ERROR:", msg)


# ---------------------------------------------------------------- helpers

def run(cmd, timeout, **kw):
    """Runs cmd, returns CompletedProcess (text). Never raises on exit status."""
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, **kw)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def children(pid):
    out = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as f:
                s = f.read()
            # the command may contain spaces and parentheses: ppid follows the last ')'
            fields = s[s.rindex(")") + 2:].split()
            if int(fields[1]) == pid:
                out.append(int(stat.split("/")[2]))
        except (OSError, ValueError, IndexError):
            pass
    return out


def cpu_seconds(pids):
    """utime + stime of the given processes (all their threads), seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
            fields = s[s.rindex(")") + 2:].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ValueError, IndexError):
            pass
    return total / tick


MODEL_THREAD_NAME = "inferd-model"  # src/batcher.c names its worker threads so


def model_cpu_split(pid):
    """(CPU seconds of the model worker threads, CPU seconds of every other thread) of inferd."""
    tick = os.sysconf("SC_CLK_TCK")
    model, other = 0, 0
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(os.path.join(task, "stat")) as f:
                s = f.read()
            fields = s[s.rindex(")") + 2:].split()
            cpu = int(fields[11]) + int(fields[12])
            name = s[s.index("(") + 1:s.rindex(")")]
        except (OSError, ValueError, IndexError):
            continue  # the thread ended meanwhile
        if name == MODEL_THREAD_NAME:
            model += cpu
        else:
            other += cpu
    return model / tick, other / tick


def quiesce(server, name, timeout=120.0, window=0.5, busy=0.1):
    """Waits until the server has finished the work left over from the last
    load run (wrk stops with requests still queued: gunicorn's sync workers
    and inferd's batcher compute them anyway): until it uses less than `busy`
    of a core over `window` seconds."""
    t0 = time.monotonic()
    last = cpu_seconds(server.pids())
    while time.monotonic() - t0 < timeout:
        time.sleep(window)
        now = cpu_seconds(server.pids())
        if now - last < busy * window:
            waited = time.monotonic() - t0
            if waited > 2 * window + 0.5:
                log(f"{name}: waited {waited:.1f} s for left-over requests to finish")
            return waited
        last = now
    log(f"{name}: still busy after {timeout:.0f} s; going on")
    return timeout


class RssSampler:
    """Samples the RSS (sum over pids()) every interval seconds while running."""

    def __init__(self, pids, interval=0.2):
        self.pids, self.interval = pids, interval
        self.max_kb = 0
        self._stop = threading.Event()
        self._thread = None

    def sample(self):
        kb = sum(rss_kb(p) for p in self.pids())
        self.max_kb = max(self.max_kb, kb)
        return kb

    def __enter__(self):
        def loop():
            while not self._stop.is_set():
                self.sample()
                self._stop.wait(self.interval)
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def http_request(port, method, path, body=None, headers=None, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def multipart(field, filename, data, content_type="image/jpeg"):
    boundary = "----inferd-bench-py-5b1e8d0c"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path, n=15):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def model_meta(path):
    try:
        with zipfile.ZipFile(path) as z:
            name = next(n for n in z.namelist() if n.endswith("extra/inferd_meta.json"))
            return json.loads(z.read(name))
    except Exception:
        return {}


def show_path(path, root):
    rel = os.path.relpath(path, root)
    return path if rel.startswith(os.path.join("..", "..")) else rel


def fmt(x, digits=1):
    if x is None:
        return "n/a"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}f}"


def md_table(headers, rows):
    cells = [[str(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    def line(vals):
        return "| " + " | ".join(v.ljust(w) for v, w in zip(vals, widths)) + " |"
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in cells]
    return "\n".join(out)


# ---------------------------------------------------------------- 1. model limit

MODEL_BENCH_ROW = re.compile(r"^\s*(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$")


def bf16_refused(text):
    t = text.lower()
    return "bf16" in t and ("neither" in t or "not supported" in t or "avx512" in t)


def model_for(args, precision):
    """int8 is a property of the model file: it runs the quantized export."""
    return args.model_int8 if precision == "int8" else args.model


def model_limit(args, cfg, precision):
    cmd = [os.path.join(args.build, "model_bench"), "--model", model_for(args, precision), "--threads", str(cfg["threads_eff"]),
           "--instances", str(cfg["model_instances"]), "--batches", "1,2,4,8", "--seconds", str(args.model_seconds),
           "--precision", precision]
    if not cfg["optimize"]:
        cmd.append("--no-optimize")
    log("model limit:", " ".join(cmd))
    # CPU the benchmark got between its first and its last result line (after
    # loading, which is mostly single-threaded): a noise indicator.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(900 + 8 * args.model_seconds * 4, proc.kill)
    watchdog.start()
    out, first, last, row_cpu = [], None, None, []
    for line in proc.stdout:
        out.append(line)
        if MODEL_BENCH_ROW.match(line):
            prev = last
            last = (cpu_seconds([proc.pid]), time.monotonic())
            first = first or last
            # CPUs the process used during this batch size's run (none for
            # the first row: its interval would include loading the model)
            row_cpu.append((last[0] - prev[0]) / (last[1] - prev[1]) if prev and last[1] > prev[1] else None)
    stderr = proc.stderr.read()
    proc.wait()
    watchdog.cancel()
    p = subprocess.CompletedProcess(cmd, proc.returncode, "".join(out), stderr)
    cores = (last[0] - first[0]) / (last[1] - first[1]) if first and last and last[1] > first[1] else None
    if p.returncode != 0:
        if precision == "bf16" and bf16_refused(p.stderr + p.stdout):
            return {"unsupported": True, "message": (p.stderr or p.stdout).strip()}
        broke(f"model_bench ({precision}) exited {p.returncode}: {p.stderr.strip()[-500:]}")
        return None
    rows = []
    for line in p.stdout.splitlines():
        m = MODEL_BENCH_ROW.match(line)
        if m:
            k = len(rows)
            cores = row_cpu[k] if k < len(row_cpu) else None
            images_s = float(m.group(4))
            rows.append({"batch": int(m.group(1)), "ms_batch": float(m.group(2)), "ms_image": float(m.group(3)),
                         "images_s": images_s,
                         "cpu_ms_image": cores / images_s * 1e3 if cores and images_s > 0 else None})
    if not rows:
        broke(f"model_bench ({precision}) printed no results:\n{p.stdout}")
        return None
    best = max(rows, key=lambda r: r["images_s"])
    within = [r for r in rows if r["batch"] <= cfg["max_batch"]]
    best_within = max(within, key=lambda r: r["images_s"]) if within else None
    b1 = next((r for r in rows if r["batch"] == 1), None)
    batch1_ms, lone_cmd = (b1["ms_batch"] if b1 else None), None
    if cfg["model_instances"] > 1:
        # A lone client keeps one worker busy while the others idle: its
        # reference is one instance's batch-1 forward, not N running at once.
        lone = cmd[:]
        lone[lone.index("--instances") + 1] = "1"
        lone[lone.index("--batches") + 1] = "1"
        log("model limit, one worker alone:", " ".join(lone))
        q = run(lone, timeout=900 + 8 * args.model_seconds)
        m = next((MODEL_BENCH_ROW.match(l) for l in q.stdout.splitlines() if MODEL_BENCH_ROW.match(l)), None)
        if q.returncode != 0 or not m:
            broke(f"model_bench ({precision}, one instance) failed: {q.stderr.strip()[-500:]}")
            return None
        batch1_ms, lone_cmd = float(m.group(2)), " ".join(lone)
    return {"rows": rows, "best": best, "best_within_max_batch": best_within,
            "batch1_ms": batch1_ms, "batch1_lone_command": lone_cmd, "command": " ".join(cmd), "cores": cores}


# ---------------------------------------------------------------- 2. preprocessing

def preprocess_c(args):
    cmd = [os.path.join(args.build, "preprocess_bench"), "--image", args.image, "--iterations",
           str(args.preprocess_iterations), "--json"]
    log("preprocessing (C):", " ".join(cmd))
    p = run(cmd, timeout=600)
    if p.returncode != 0:
        broke(f"preprocess_bench exited {p.returncode}: {p.stderr.strip()}")
        return None
    return json.loads(p.stdout.strip().splitlines()[-1])


def preprocess_pil(args):
    import torch
    from PIL import Image
    from torchvision import transforms
    log("preprocessing (PIL + torchvision):", args.preprocess_iterations, "iterations in this process")
    with open(args.image, "rb") as f:
        data = f.read()
    tf = transforms.Compose([transforms.Resize(255), transforms.CenterCrop(224), transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    n, warm = args.preprocess_iterations, 5
    total, decode, rest = [], [], []
    for i in range(-warm, n):
        t = time.perf_counter()
        x = tf(Image.open(io.BytesIO(data)).convert("RGB"))
        dt = time.perf_counter() - t
        if i >= 0:
            total.append(dt * 1e3)
    for i in range(-warm, n):
        t = time.perf_counter()
        im = Image.open(io.BytesIO(data)).convert("RGB")
        t1 = time.perf_counter()
        x = tf(im)
        t2 = time.perf_counter()
        if i >= 0:
            decode.append((t1 - t) * 1e3)
            rest.append((t2 - t1) * 1e3)
    assert tuple(x.shape) == (3, 224, 224)
    total.sort()
    return {"median_ms": statistics.median(total), "mean_ms": statistics.fmean(total), "min_ms": total[0],
            "p90_ms": total[int(0.9 * (len(total) - 1) + 0.5)], "decode_median_ms": statistics.median(decode),
            "preprocess_median_ms": statistics.median(rest), "iterations": n,
            "torch_threads": torch.get_num_threads()}


# ---------------------------------------------------------------- wrk

def wrk(args, port, conns, seconds):
    threads = min(conns, 2)
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--timeout", f"{args.wrk_timeout}s", "--latency",
           "-s", os.path.join(HERE, "wrk_post.lua"), f"http://127.0.0.1:{port}/"]
    env = dict(os.environ, WRK_IMAGE=args.image)
    try:
        p = run(cmd, timeout=seconds + args.wrk_timeout + 60, env=env)
    except subprocess.TimeoutExpired:
        broke(f"wrk -c{conns} did not finish")
        return None
    m = re.search(r"^WRK_JSON (\{.*\})$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        broke(f"wrk -c{conns} failed (exit {p.returncode}): {p.stderr.strip()} {p.stdout.strip()[-300:]}")
        return None
    r = json.loads(m.group(1))
    dur = r["duration_us"] / 1e6
    ok = r["requests"] - r["status_errors"]
    done = r["requests"] > 0  # no latency at all when no request completed within the run

    def ms(key):
        return r[key] / 1e3 if done else None
    return {"conns": conns, "threads": threads, "seconds": dur, "requests": r["requests"],
            "rps": r["requests"] / dur if dur > 0 else 0.0, "ok_rps": ok / dur if dur > 0 else 0.0,
            "p50_ms": ms("p50_us"), "p90_ms": ms("p90_us"), "p99_ms": ms("p99_us"),
            "max_ms": ms("lat_max_us"), "non2xx": r["status_errors"],
            "socket_errors": {k: r[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")},
            "text": p.stdout}


def socket_errors_str(e):
    total = sum(e.values())
    if total == 0:
        return "0"
    short = {"connect_errors": "connect", "read_errors": "read", "write_errors": "write", "timeouts": "timeout"}
    return " ".join(f"{short[k]} {v}" for k, v in e.items() if v)


# ---------------------------------------------------------------- servers

def terminate(proc, logf, timeout):
    """SIGTERM proc, wait up to timeout s (then SIGKILL), close its log.
    Returns its exit status, None when it had to be killed, 0 if never started."""
    status = 0
    if proc is not None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                status = None
        if status is not None:
            status = proc.returncode
    if logf is not None and not logf.closed:
        logf.close()
    return status


class Inferd:
    """build-bench/inferd on 127.0.0.1, a free port, cwd = project root (so ./config.json applies)."""

    def __init__(self, args, flags, logname, model=None):
        self.args, self.flags = args, flags
        self.model = model or args.model
        self.log_path = os.path.join(args.results, "logs", logname)
        self.proc, self.port = None, None
        self.ready_s = None
        self.self_reported_ready_ms = None
        self.refused = None

    def start(self, ready_timeout=300):
        cmd = [os.path.join(self.args.build, "inferd"), "--addr", "127.0.0.1", "--port", "0",
               "--model", self.model, "--class-index", self.args.class_index] + self.flags
        log("start:", " ".join(cmd))
        self.logf = open(self.log_path, "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, cwd=self.args.root, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = t0 + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                text = tail(self.log_path, 30)
                if "bf16" in self.flags and bf16_refused(text):
                    self.refused = text.strip().splitlines()[-1] if text.strip() else "refused"
                    return False
                raise RuntimeError(f"inferd exited {self.proc.returncode} before ready:\n{text}")
            if self.port is None:
                m = re.search(r"listening on 127\.0\.0\.1 port (\d+)", tail(self.log_path, 200))
                if m:
                    self.port = int(m.group(1))
            if self.port is not None:
                try:
                    status, _ = http_request(self.port, "GET", "/ready", timeout=2)
                    if status == 200:
                        self.ready_s = time.monotonic() - t0
                        m = re.search(r"ready in (\d+) ms", tail(self.log_path, 200))
                        self.self_reported_ready_ms = int(m.group(1)) if m else None
                        return True
                except OSError:
                    pass
            time.sleep(0.025)
        self.stop()
        raise RuntimeError(f"inferd not ready after {ready_timeout} s:\n{tail(self.log_path)}")

    def pids(self):
        return [self.proc.pid] if self.proc and self.proc.poll() is None else []

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def metrics(self):
        try:
            status, body = http_request(self.port, "GET", "/metrics", timeout=5)
        except OSError:
            return {}
        if status != 200:
            return {}
        out = {}
        for line in body.decode(errors="replace").splitlines():
            m = re.match(r"^(inferd_batch_size_(?:sum|count)|inferd_model_forward_seconds_(?:sum|count))"
                         r"(?:\{[^}]*\})?\s+([0-9.eE+-]+)$", line)
            if m:
                out[m.group(1)] = float(m.group(2))
            m = re.match(r'^inferd_model_forwards_total\{threads="(worker|lone)"\}\s+([0-9.eE+-]+)$', line)
            if m:
                out["forwards_" + m.group(1)] = float(m.group(2))
        return out

    def stop(self):
        """SIGTERM, wait; returns the exit status (None if it had to be killed)."""
        return terminate(self.proc, getattr(self, "logf", None), 30)


class Baseline:
    """bench/baseline_app.py under gunicorn -w 2 (torch's default threads)."""

    def __init__(self, args):
        self.args = args
        self.log_path = os.path.join(args.results, "logs", "baseline.log")
        self.proc, self.port, self.ready_s = None, None, None

    def start(self, ready_timeout=300):
        self.port = free_port()
        cmd = ["gunicorn", "-w", "2", "-b", f"127.0.0.1:{self.port}", "--chdir", HERE, "baseline_app:app"]
        env = dict(os.environ, MODEL=self.args.model, CLASS_INDEX=self.args.class_index)
        log("start:", " ".join(cmd))
        self.logf = open(self.log_path, "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, cwd=self.args.root, env=env, stdout=self.logf, stderr=subprocess.STDOUT)
        deadline = t0 + ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.proc.returncode}:\n{tail(self.log_path)}")
            try:
                status, _ = http_request(self.port, "GET", "/", timeout=2)
                # both workers must have imported the app: wait until there are 2 children
                if status == 200 and len(children(self.proc.pid)) >= 2:
                    self.ready_s = time.monotonic() - t0
                    return True
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"gunicorn not ready after {ready_timeout} s:\n{tail(self.log_path)}")

    def pids(self):
        if not self.proc or self.proc.poll() is not None:
            return []
        return [self.proc.pid] + children(self.proc.pid)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None and len(children(self.proc.pid)) >= 1

    def metrics(self):
        return {}

    def stop(self):
        terminate(self.proc, getattr(self, "logf", None), 60)
        return 0  # gunicorn's exit status after SIGTERM is not a verdict on the benchmark


def check_answer(server, name, image_bytes):
    body, headers = multipart("image", os.path.basename(server.args.image), image_bytes)
    try:
        status, resp = http_request(server.port, "POST", "/", body=body, headers=headers, timeout=120)
    except OSError as e:
        broke(f"{name}: POST / failed: {e}")
        return None
    if status != 200:
        broke(f"{name}: POST / answered {status}: {resp[:200]!r}")
        return None
    try:
        return json.loads(resp)
    except ValueError:
        broke(f"{name}: POST / answered non-JSON: {resp[:200]!r}")
        return None


def warm_up(server, name, image_bytes, clients, per_client):
    """clients concurrent clients, each sending per_client requests one after
    the other, so that every worker has run a few forwards (TorchScript's
    profiling executor optimises the graph only after the first calls)."""
    if clients <= 0 or per_client <= 0:
        return
    log(f"{name}: warm-up, {clients} clients x {per_client} requests")
    body, headers = multipart("image", os.path.basename(server.args.image), image_bytes)
    failures = []

    def client():
        for _ in range(per_client):
            try:
                status, _ = http_request(server.port, "POST", "/", body=body, headers=headers, timeout=300)
                if status != 200:
                    failures.append(status)
            except OSError as e:
                failures.append(str(e))
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        broke(f"{name}: warm-up requests failed: {failures[:5]}")


def load_server(args, server, name, levels, seconds):
    """RSS at rest, one checked request, warm-up, then wrk at each level with RSS sampling."""
    with open(args.image, "rb") as f:
        image_bytes = f.read()
    sampler = RssSampler(server.pids)
    rss_before = sampler.sample() / 1024
    sampler.max_kb = 0
    answer = check_answer(server, name, image_bytes)
    warm_up(server, name, image_bytes, args.warmup_clients, args.warmup_requests)
    quiesce(server, name)
    rows, died = [], False
    with sampler:
        for c in levels:
            if not server.alive():
                broke(f"{name} died before the {c}-connection run:\n{tail(server.log_path)}")
                died = True
                break
            before = server.metrics()
            log(f"{name}: wrk {c} connection(s), {seconds} s")
            split0 = model_cpu_split(server.pids()[0]) if isinstance(server, Inferd) and server.pids() else None
            cpu0, t0 = cpu_seconds(server.pids()), time.monotonic()
            r = wrk(args, server.port, c, seconds)
            cpu1, t1 = cpu_seconds(server.pids()), time.monotonic()
            split1 = model_cpu_split(server.pids()[0]) if split0 and server.pids() else None
            after = server.metrics()
            if r is None:
                continue
            # cores the server got during the run: far below the CPU count under
            # full load means other processes took the machine (noisy numbers)
            r["server_cores"] = (cpu1 - cpu0) / (t1 - t0) if t1 > t0 else None
            if split0 and split1 and split1[0] > split0[0] and r.get("requests"):
                # CPU time, not wall: stays right when other processes share the CPUs
                r["model_cpu_ms_per_request"] = (split1[0] - split0[0]) / r["requests"] * 1e3
                r["non_model_cpu_ms_per_request"] = (split1[1] - split0[1]) / r["requests"] * 1e3
            if before and after:
                n = after.get("inferd_batch_size_count", 0) - before.get("inferd_batch_size_count", 0)
                s = after.get("inferd_batch_size_sum", 0) - before.get("inferd_batch_size_sum", 0)
                fs = (after.get("inferd_model_forward_seconds_sum", 0)
                      - before.get("inferd_model_forward_seconds_sum", 0))
                r["mean_batch"] = s / n if n else None
                r["mean_forward_ms"] = fs / n * 1e3 if n else None
                lone = after.get("forwards_lone", 0) - before.get("forwards_lone", 0)
                r["lone_forward_share"] = lone / n if n else None
            rows.append(r)
            quiesce(server, name)
            log(f"{name}: {c} conns: {r['rps']:.2f} req/s ({r['requests']} requests), p50 {fmt(r['p50_ms'])} ms, "
                f"p99 {fmt(r['p99_ms'])} ms, "
                f"non-2xx {r['non2xx']}, socket errors {socket_errors_str(r['socket_errors'])}")
    if not died and not server.alive():
        broke(f"{name} died under load:\n{tail(server.log_path)}")
    time.sleep(1.0)
    rss_after = RssSampler(server.pids).sample() / 1024
    return {"answer": answer, "rows": rows, "rss_before_mb": rss_before, "rss_during_max_mb": sampler.max_kb / 1024,
            "rss_after_mb": rss_after, "ready_s": server.ready_s}


def inferd_run(args, cfg, precision, levels, seconds, extra_flags=(), logname=None):
    flags = list(cfg["flags"]) + ["--precision", precision] + list(extra_flags)
    server = Inferd(args, flags, logname or f"inferd-{precision}.log", model_for(args, precision))
    try:
        if not server.start():
            log(f"bf16: server refused: {server.refused}")
            return {"unsupported": True, "message": server.refused}
    except RuntimeError as e:
        broke(str(e))
        return None
    try:
        res = load_server(args, server, f"inferd {precision}", levels, seconds)
        res["self_reported_ready_ms"] = server.self_reported_ready_ms
        res["flags"] = flags
    finally:
        rc = server.stop()
    if rc != 0:
        broke(f"inferd {precision} exited {rc} after SIGTERM:\n{tail(server.log_path)}")
    return res


def baseline_run(args, levels, seconds):
    server = Baseline(args)
    try:
        server.start()
    except RuntimeError as e:
        broke(str(e))
        return None
    try:
        res = load_server(args, server, "baseline", levels, seconds)
    finally:
        server.stop()
    return res


# ---------------------------------------------------------------- 6. bf16 agreement

def generated_images(outdir):
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(3)
    paths = []
    h, w = 300, 400
    y, x = np.mgrid[0:h, 0:w]
    imgs = {
        "gen-gradient.png": np.stack([x * 255 // w, y * 255 // h, (x + y) * 255 // (w + h)], -1),
        "gen-noise.png": rng.integers(0, 256, (h, w, 3)),
        "gen-checker.png": np.repeat((((x // 16) + (y // 16)) % 2 * 255)[..., None], 3, -1),
        "gen-blobs.jpg": np.clip(128 + 100 * np.stack([np.sin(x / 23.0) * np.cos(y / 17.0),
                                                       np.sin((x + y) / 31.0),
                                                       np.cos(x / 11.0 - y / 29.0)], -1), 0, 255),
    }
    for name, arr in imgs.items():
        p = os.path.join(outdir, name)
        Image.fromarray(arr.astype(np.uint8), "RGB").save(p, **({"quality": 92} if name.endswith(".jpg") else {}))
        paths.append(p)
    return paths


def classify(args, cfg, precision, images):
    cmd = [os.path.join(args.build, "inferd-classify"), "--topk", "1000", "--precision", precision,
           "--model", model_for(args, precision), "--class-index", args.class_index] + list(cfg["flags"]) + images
    p = run(cmd, timeout=900, cwd=args.root)
    if p.returncode != 0:
        return None, (p.stderr or p.stdout).strip()
    lines = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    return lines, None


def precision_agreement(args, cfg, prec):
    """fp32 vs prec through inferd-classify (the C pipeline, all 1000
    probabilities) on the photos and generated images; the fp32 top1-top2
    logit margin is ln(p1 / p2) of its softmax."""
    photos = sorted(glob.glob(os.path.join(args.shared_dir, "*.jpg")) + glob.glob(os.path.join(args.shared_dir, "*.png")))
    data_dir = os.path.join(args.root, "data")
    photos += sorted(glob.glob(os.path.join(data_dir, "*.jpg")) + glob.glob(os.path.join(data_dir, "*.png")))
    with tempfile.TemporaryDirectory(prefix="inferd-bench-") as tmp:
        images = photos + generated_images(tmp)
        log(f"{prec} agreement: inferd-classify on {len(images)} images")
        fp32, err = classify(args, cfg, "fp32", images)
        if fp32 is None:
            broke(f"inferd-classify fp32 failed: {err}")
            return None
        other, err = classify(args, cfg, prec, images)
        if other is None:
            if prec == "bf16" and bf16_refused(err or ""):
                return {"unsupported": True, "message": err}
            broke(f"inferd-classify {prec} failed: {err}")
            return None
    if len(fp32) != len(images) or len(other) != len(images):
        broke(f"inferd-classify printed {len(fp32)}/{len(other)} lines for {len(images)} images")
        return None
    per_image, agree, max_diff = [], 0, 0.0
    for path, a, b in zip(images, fp32, other):
        if "error" in a or "error" in b:
            broke(f"inferd-classify: {os.path.basename(path)}: {a.get('error') or b.get('error')}")
            continue
        pa = {p["class_id"]: p["probability"] for p in a["predictions"]}
        pb = {p["class_id"]: p["probability"] for p in b["predictions"]}
        diff = max(abs(pa[k] - pb.get(k, 0.0)) for k in pa)
        top5 = len({p["class_id"] for p in a["predictions"][:5]} & {p["class_id"] for p in b["predictions"][:5]})
        same = a["class_id"] == b["class_id"]
        agree += same
        max_diff = max(max_diff, diff)
        p1, p2 = a["predictions"][0]["probability"], a["predictions"][1]["probability"]
        margin = math.log(p1 / p2) if p1 > 0 and p2 > 0 else None
        per_image.append({"image": os.path.basename(path), "fp32": a["class_name"], "other": b["class_name"],
                          "same_top1": same, "p_fp32": p1, "p_other": b["predictions"][0]["probability"],
                          "fp32_margin": margin, "max_prob_diff": diff, "top5_overlap": top5})
    return {"images": len(per_image), "top1_agree": agree, "max_prob_diff": max_diff, "per_image": per_image}


# ---------------------------------------------------------------- report

def pipeline_limit(res, info, prec):
    """CPUs / (bare forward CPU per image at the best batch + the server's
    measured non-model CPU per request), with the figures it comes from."""
    ml, sr, cfg = res["model"].get(prec), res["server"].get(prec), res["cfg"]
    if not ml or ml.get("unsupported") or not sr or sr.get("unsupported"):
        return None
    r16 = next((r for r in sr["rows"] if r["conns"] == 16), None)
    if not r16 or not r16.get("rps") or r16.get("non_model_cpu_ms_per_request") is None:
        return None
    cpus = info["cpus"]
    bare = ml["best"]["images_s"]
    # The bare forward's CPU per image: measured (model_bench's CPU time over
    # the best batch's run) when there is one, else what its threads could use.
    nominal = cfg["model_instances"] * cfg["threads_eff"] / bare * 1e3
    forward_cpu_ms = ml["best"].get("cpu_ms_image") or nominal
    non_model = r16["non_model_cpu_ms_per_request"]
    return {"bare": bare, "best_batch": ml["best"]["batch"], "forward_cpu_ms": forward_cpu_ms,
            "forward_cpu_measured": bool(ml["best"].get("cpu_ms_image")),
            "server_model_cpu_ms_per_request": r16.get("model_cpu_ms_per_request"),
            "non_model_cpu_ms": non_model,
            "limit": cpus / ((forward_cpu_ms + non_model) / 1e3), "server": r16["rps"]}


FEW_REQUESTS = 20
FEW_NOTE = (f"`*`: fewer than {FEW_REQUESTS} requests completed in the run, so the percentiles are rough (requests "
            "still queued when wrk stops are not counted at all).")


def few(r):
    return "*" if r["requests"] < FEW_REQUESTS else ""


def verdict(ok):
    return "PASS" if ok else "FAIL"


def report(args, info, res):
    out = []
    w = out.append
    w(f"# inferd benchmark ({'quick' if args.quick else 'full'})")
    w("")
    w(f"- date: {info['date']}; commit {info['commit']}")
    w(f"- machine: {info['cpu']}, {info['cpus']} CPUs, bf16 {'yes' if info['cpu_bf16'] else 'no'}; "
      f"load average {info['load_start']} at start, {info['load_end']} at end (other jobs make numbers noisy)")
    w(f"- model: `{info['model']}` ({info['model_meta']}); image: `{info['image']}` "
      f"({info['image_bytes']} bytes, {info['image_size']})")
    cfg = res["cfg"]
    w(f"- server settings (config.json + flags `{' '.join(cfg['flags']) or '(none)'}`): threads {cfg['threads']} "
      f"(effective {cfg['threads_eff']}), model_instances {cfg['model_instances']}, max_batch {cfg['max_batch']}, "
      f"batch_delay_us {cfg['batch_delay_us']}, http_threads {cfg['http_threads']}, optimize {cfg['optimize']}")
    w(f"- load: wrk {args.duration} s per level (--timeout {args.wrk_timeout}s, threads = min(conns, 2)) after a "
      f"warm-up of {args.warmup_clients} clients x {args.warmup_requests} requests, and waiting for the server to go "
      f"idle between levels; model_bench {args.model_seconds} s per batch size; "
      f"preprocessing median of {args.preprocess_iterations}")
    w(f"- baseline: `gunicorn -w 2 baseline_app:app` (Flask tutorial code, same TorchScript file, torch "
      f"{info['torch']}, torch threads per worker {info['torch_threads']})")
    w("")

    # 1. model limit
    w("## Model limit (model_bench, server thread settings)")
    w("")
    rows = []
    for prec in res["precisions"]:
        ml = res["model"].get(prec)
        if ml is None:
            rows.append([prec, "failed", "", "", ""])
        elif ml.get("unsupported"):
            rows.append([prec, "not supported on this CPU", "", "", ""])
        else:
            for r in ml["rows"]:
                best = " (best)" if r is ml["best"] else ""
                rows.append([prec, r["batch"], fmt(r["ms_batch"], 2), fmt(r["ms_image"], 2),
                             fmt(r["images_s"], 2) + best])
    w(md_table(["precision", "batch", "ms/batch", "ms/image", "images/s"], rows))
    w("")
    for prec in res["precisions"]:
        ml = res["model"].get(prec)
        if ml and not ml.get("unsupported") and ml.get("cores") is not None:
            w(f"model_bench {prec} got {ml['cores']:.2f} of {info['cpus']} CPUs on average over batches 2..8 (it "
              f"asks for {cfg['threads_eff'] * cfg['model_instances']}: less means other processes took them).")
        if ml and not ml.get("unsupported") and ml.get("batch1_lone_command"):
            w(f"{prec}: the rows run {cfg['model_instances']} workers at once (the server's throughput limit); a lone "
              f"batch-1 forward (one worker, the others idle, as a single client sees it) took "
              f"{ml['batch1_ms']:.2f} ms (`{ml['batch1_lone_command']}`).")
    w("")

    # 2. preprocessing
    w("## Preprocessing alone (decode + Resize(255) + CenterCrop(224) + ToTensor + Normalize, bytes in memory)")
    w("")
    c, py = res.get("pre_c"), res.get("pre_py")
    rows = []
    if c:
        rows.append(["inferd C (pipeline_prepare)", fmt(c["median_ms"], 3), fmt(c["mean_ms"], 3), fmt(c["p90_ms"], 3),
                     fmt(c["decode_median_ms"], 3), fmt(c["preprocess_median_ms"], 3)])
    if py:
        rows.append([f"PIL + torchvision (torch threads {py['torch_threads']})", fmt(py["median_ms"], 3),
                     fmt(py["mean_ms"], 3), fmt(py["p90_ms"], 3), fmt(py["decode_median_ms"], 3),
                     fmt(py["preprocess_median_ms"], 3)])
    w(md_table(["implementation", "median ms/image", "mean", "p90", "decode median", "resize..normalise median"],
               rows))
    w("")

    # 3/4. servers under load
    w("## Servers under load (wrk, multipart POST /, one image per request)")
    w("")
    rows, rss_rows = [], []
    def add_server(label, sr):
        if sr is None and label.startswith("baseline") and args.no_baseline:
            rows.append([label, "skipped (--no-baseline)", "", "", "", "", "", "", ""])
            return
        if sr is None:
            rows.append([label, "failed", "", "", "", "", "", "", ""])
            return
        if sr.get("unsupported"):
            rows.append([label, "not supported on this CPU", "", "", "", "", "", "", ""])
            return
        for r in sr["rows"]:
            rows.append([label, r["conns"], fmt(r["rps"], 2), fmt(r["p50_ms"]) + few(r), fmt(r["p99_ms"]) + few(r),
                         r["non2xx"],
                         socket_errors_str(r["socket_errors"]),
                         fmt(r.get("mean_batch"), 2) if "mean_batch" in r else "-",
                         fmt(r.get("server_cores"), 2)])
        rss_rows.append([label, fmt(sr["rss_before_mb"]), fmt(sr["rss_during_max_mb"]), fmt(sr["rss_after_mb"]),
                         fmt(sr["ready_s"], 2)])
    for prec in res["precisions"]:
        add_server(f"inferd {prec}", res["server"].get(prec))
    add_server("baseline (gunicorn -w 2)", res.get("baseline"))
    w(md_table(["server", "conns", "req/s", "p50 ms", "p99 ms", "non-2xx", "socket errors", "mean batch",
                "server CPUs used"], rows))
    w("")
    w(f"mean batch: images per model forward during the run (inferd's /metrics). server CPUs used: CPU time the "
      f"server got during the run / wall time (out of {info['cpus']}). {FEW_NOTE}")
    w("")
    w(md_table(["server", "RSS before MB", "RSS max during MB", "RSS after MB", "start to ready s"], rss_rows))
    w("")
    w("RSS of the baseline is the sum over the gunicorn master and its workers.")
    w("")

    # 5. ratios and targets
    w("## Ratios and targets")
    w("")
    rows = []
    for prec in res["precisions"]:
        ml, sr = res["model"].get(prec), res["server"].get(prec)
        if not ml or ml.get("unsupported") or not sr or sr.get("unsupported"):
            continue
        by_c = {r["conns"]: r for r in sr["rows"]}
        if 16 in by_c:
            ratio = by_c[16]["rps"] / ml["best"]["images_s"]
            rows.append([f"{prec}: server images/s at 16 conns / bare model best (batch {ml['best']['batch']})",
                         f"{by_c[16]['rps']:.2f} / {ml['best']['images_s']:.2f} = {ratio:.3f}",
                         f">= {TARGET_THROUGHPUT_RATIO}", verdict(ratio >= TARGET_THROUGHPUT_RATIO)])
            bw = ml.get("best_within_max_batch")
            if bw and bw is not ml["best"]:
                rows.append([f"{prec}: (info) same vs best batch <= max_batch {cfg['max_batch']} (batch {bw['batch']})",
                             f"{by_c[16]['rps'] / bw['images_s']:.3f}", "", ""])
        if 1 in by_c and by_c[1]["p50_ms"] is None:
            rows.append([f"{prec}: single-client p50 - bare batch-1 forward", "no request completed",
                         f"<= {TARGET_P50_OVERHEAD_MS:.0f} ms", "FAIL"])
        elif 1 in by_c and ml["batch1_ms"] is not None:
            # The server's own mean forward at 1 connection when it has one: a
            # lone request may run boosted, faster than the bare 1-thread forward.
            fwd = by_c[1].get("mean_forward_ms") or ml["batch1_ms"]
            what = "the server's mean forward at 1 conn" if by_c[1].get("mean_forward_ms") else "bare batch-1 forward"
            over = by_c[1]["p50_ms"] - fwd
            rows.append([f"{prec}: single-client p50 - {what} (bare batch-1: {ml['batch1_ms']:.1f} ms)",
                         f"{by_c[1]['p50_ms']:.1f} - {fwd:.1f} = {over:+.1f} ms",
                         f"<= {TARGET_P50_OVERHEAD_MS:.0f} ms", verdict(over <= TARGET_P50_OVERHEAD_MS)])
        rows.append([f"{prec}: server RSS (max of before/during/after)",
                     f"{max(sr['rss_before_mb'], sr['rss_during_max_mb'], sr['rss_after_mb']):.1f} MB",
                     f"<= {TARGET_RSS_MB:.0f} MB",
                     verdict(max(sr['rss_before_mb'], sr['rss_during_max_mb'], sr['rss_after_mb']) <= TARGET_RSS_MB)])
        rows.append([f"{prec}: time to ready (process start to GET /ready 200)",
                     f"{sr['ready_s']:.2f} s (server log: {sr.get('self_reported_ready_ms')} ms after load start)",
                     f"<= {TARGET_READY_S:.0f} s", verdict(sr["ready_s"] <= TARGET_READY_S)])
    if c and py:
        sp = py["median_ms"] / c["median_ms"]
        rows.append(["preprocessing speed-up, C vs PIL + torchvision",
                     f"{py['median_ms']:.2f} / {c['median_ms']:.2f} ms = {sp:.2f}x",
                     f">= {TARGET_PREPROCESS_SPEEDUP:.0f}x", verdict(sp >= TARGET_PREPROCESS_SPEEDUP)])
    base = res.get("baseline")
    prim = res["server"].get(res["precisions"][0])
    if base and prim and not prim.get("unsupported"):
        bc = {r["conns"]: r for r in base["rows"]}
        ic = {r["conns"]: r for r in prim["rows"]}
        all_ahead = True
        for cn in CONNECTIONS:
            if cn not in bc or cn not in ic:
                all_ahead = False
                continue
            ir, br = ic[cn]["rps"], bc[cn]["rps"]
            ip, bp = ic[cn]["p99_ms"], bc[cn]["p99_ms"]
            tput = f"{ir / br:.2f}x req/s" if br > 0 else f"{ir:.2f} vs 0 req/s"
            if ip is None:
                p99, p99_ok = "inferd completed no request", False
            elif bp is None:
                p99, p99_ok = f"baseline completed no request in {args.duration} s", True
            else:
                p99, p99_ok = f"{ip / bp:.2f}x p99", ip < bp
            ahead = ir > br and p99_ok
            all_ahead &= ahead
            rows.append([f"inferd {res['precisions'][0]} vs baseline at {cn} conn(s): throughput ratio, p99 ratio",
                         f"{tput}, {p99}", "> 1, < 1", verdict(ahead)])
        rows.append(["ahead of the baseline at every concurrency", "", "all of the above", verdict(all_ahead)])
    w(md_table(["measure", "value", "target", "verdict"], rows))
    w("")

    # pipeline limit and the int8 targets (issue 14)
    pl = {p: pipeline_limit(res, info, p) for p in res["precisions"]}
    rows = []
    for prec, v in pl.items():
        if v:
            rows.append([prec, f"{v['bare']:.2f} (batch {v['best_batch']})", f"{v['forward_cpu_ms']:.2f}",
                         f"{v['non_model_cpu_ms']:.2f}", f"{v['limit']:.2f}", f"{v['server']:.2f}",
                         f"{v['server'] / v['bare']:.3f}", f"{v['server'] / v['limit']:.3f}"])
    if rows:
        w("## Pipeline limit (per precision)")
        w("")
        w(md_table(["precision", "bare best img/s", "forward CPU ms/img (best batch)",
                    "non-model CPU ms/request (measured)", "pipeline limit req/s", "server req/s at 16 conns",
                    "server / bare", "server / pipeline limit"], rows))
        w("")
        w(f"forward CPU per image: CPUs model_bench used during its best batch size's run / its img/s (or, "
          f"for batch 1, {cfg['model_instances']} workers x {cfg['threads_eff']} thread(s) / img/s); non-model CPU "
          f"per request: the CPU time of every server thread except the model workers (`{MODEL_THREAD_NAME}`) "
          f"during the 16-connection run / requests; pipeline limit = {info['cpus']} CPUs / (forward + non-model). "
          f"CPU times, not wall times, so other load on the machine lowers the rates but not these costs.")
        w("")
    rows = []
    f32, i8 = pl.get("fp32"), pl.get("int8")
    if f32 and i8:
        r = i8["bare"] / f32["bare"]
        rows.append(["int8 bare best / fp32 bare best", f"{i8['bare']:.2f} / {f32['bare']:.2f} = {r:.2f}x",
                     f">= {TARGET_INT8_BARE_SPEEDUP}x", verdict(r >= TARGET_INT8_BARE_SPEEDUP)])
        r = i8["server"] / f32["server"]
        rows.append(["int8 server / fp32 server at 16 conns", f"{i8['server']:.2f} / {f32['server']:.2f} = {r:.2f}x",
                     f">= {TARGET_INT8_SERVER_SPEEDUP}x", verdict(r >= TARGET_INT8_SERVER_SPEEDUP)])
    if i8:
        r = i8["server"] / i8["limit"]
        rows.append(["int8 server / int8 pipeline limit", f"{i8['server']:.2f} / {i8['limit']:.2f} = {r:.3f}",
                     f">= {TARGET_INT8_PIPELINE_FRACTION}", verdict(r >= TARGET_INT8_PIPELINE_FRACTION)])
    for prec, v in pl.items():
        if v:
            rows.append([f"{prec}: non-model CPU per request", f"{v['non_model_cpu_ms']:.2f} ms",
                         f"<= {TARGET_NON_MODEL_CPU_MS:.0f} ms", verdict(v["non_model_cpu_ms"] <= TARGET_NON_MODEL_CPU_MS)])
    s16 = {p: res["server"].get(p) for p in ("fp32", "int8")}
    p50 = {}
    for prec, sr in s16.items():
        if sr and not sr.get("unsupported"):
            one = next((r for r in sr["rows"] if r["conns"] == 1), None)
            p50[prec] = one["p50_ms"] if one else None
    if p50.get("fp32") and p50.get("int8"):
        r = p50["int8"] / p50["fp32"]
        rows.append(["single client: int8 p50 / fp32 p50", f"{p50['int8']:.1f} / {p50['fp32']:.1f} ms = {r:.2f}",
                     f"<= {TARGET_INT8_P50_RATIO}", verdict(r <= TARGET_INT8_P50_RATIO)])
    sr = s16.get("int8")
    if sr and not sr.get("unsupported"):
        rss = max(sr["rss_before_mb"], sr["rss_during_max_mb"], sr["rss_after_mb"])
        rows.append(["int8 server RSS (max of before/during/after)", f"{rss:.1f} MB", f"<= {TARGET_INT8_RSS_MB:.0f} MB",
                     verdict(rss <= TARGET_INT8_RSS_MB)])
    ag = res.get("agreement", {}).get("int8")
    if ag:
        sure = [r for r in ag["per_image"] if r["fp32_margin"] is not None and r["fp32_margin"] >= 3]
        ok = sum(r["same_top1"] for r in sure)
        rows.append(["int8 top-1 = fp32 top-1 where the fp32 margin >= 3 logits", f"{ok}/{len(sure)}", "100%",
                     verdict(ok == len(sure))])
    if rows:
        w("## int8 targets (issue 14)")
        w("")
        w(md_table(["measure", "value", "target", "verdict"], rows))
        w("")

    # the lone-request boost (issue 14)
    rows = []
    for prec, off in res.get("lone_off", {}).items():
        on = res["server"].get(prec)
        if not off or not on or off.get("unsupported"):
            continue
        if off.get("forced_on"):  # int8: the default is off; the other run forces it on
            on, off = off, on
        by_on = {r["conns"]: r for r in on["rows"]}
        by_off = {r["conns"]: r for r in off["rows"]}
        if 1 in by_on and 1 in by_off:
            r = by_on[1]["p50_ms"] / by_off[1]["p50_ms"]
            share = by_on[1].get("lone_forward_share")
            target = TARGET_LONE_P50_RATIO if prec == "fp32" else None
            rows.append([f"{prec}: single-client p50, boost on / off",
                         f"{by_on[1]['p50_ms']:.1f} / {by_off[1]['p50_ms']:.1f} ms = {r:.2f}"
                         + (f" ({share:.0%} of forwards boosted)" if share is not None else ""),
                         f"<= {target}" if target else "(report)", verdict(r <= target) if target else ""])
        if 16 in by_on and 16 in by_off:
            r = by_on[16]["rps"] / by_off[16]["rps"]
            rows.append([f"{prec}: 16-connection req/s, boost on / off",
                         f"{by_on[16]['rps']:.2f} / {by_off[16]['rps']:.2f} = {r:.3f}",
                         f">= {TARGET_LONE_16_RATIO}", verdict(r >= TARGET_LONE_16_RATIO)])
    if rows:
        w("## Lone-request boost (issue 14: `lone_request_threads`; on by default for fp32, off = "
          "`--lone-request-threads 1`; off by default for int8, on = `--lone-request-threads <CPUs>`)")
        w("")
        w(md_table(["measure", "value", "target", "verdict"], rows))
        w("")

    # 6. agreement of each lower precision with fp32
    for prec in [p for p in res["precisions"] if p != "fp32"]:
        ag = res.get("agreement", {}).get(prec)
        w(f"## {prec} vs fp32 (inferd-classify, all 1000 probabilities)")
        w("")
        if prec == "bf16" and res.get("bf16_unsupported"):
            w("bf16: not supported on this CPU")
        elif ag is None:
            w("agreement check failed (see errors)")
        else:
            w(f"top-1 agreement {ag['top1_agree']}/{ag['images']}; max softmax-probability difference "
              f"{ag['max_prob_diff']:.4f}. fp32 margin: top1 - top2 logit = ln(p1/p2).")
            w("")
            w(md_table(["image", "fp32 top-1", f"{prec} top-1", "same", "fp32 margin", "p fp32", f"p {prec}",
                        "max |dp|", "top-5 overlap"],
                       [[r["image"], r["fp32"], r["other"], "yes" if r["same_top1"] else "NO",
                         fmt(r["fp32_margin"], 2), fmt(r["p_fp32"], 4),
                         fmt(r["p_other"], 4), fmt(r["max_prob_diff"], 4), f"{r['top5_overlap']}/5"]
                        for r in ag["per_image"]]))
        w("")

    # 7. batching sweep
    sw = res.get("sweep")
    if sw is not None:
        w(f"## Batching sweep (inferd {res['precisions'][0]}, 16 connections, {args.sweep_duration} s each)")
        w("")
        rows = []
        for s in sw:
            r = s.get("row")
            if r is None:
                rows.append([s["max_batch"], s["delay"], "failed", "", "", "", "", "", "", ""])
            else:
                rows.append([s["max_batch"], s["delay"], fmt(r["rps"], 2), fmt(r["p50_ms"]) + few(r),
                             fmt(r["p99_ms"]) + few(r),
                             r["non2xx"], socket_errors_str(r["socket_errors"]), fmt(r.get("mean_batch"), 2),
                             fmt(r.get("mean_forward_ms")), fmt(r.get("server_cores"), 2)])
        w(md_table(["max_batch", "batch_delay_us", "req/s", "p50 ms", "p99 ms", "non-2xx", "socket errors",
                    "mean batch", "mean forward ms", "server CPUs used"], rows))
        w("")
        w(FEW_NOTE)
        w("")

    answers = []
    for label, sr in [(f"inferd {p}", res["server"].get(p)) for p in res["precisions"]] + [
            ("baseline", res.get("baseline"))]:
        if sr and not sr.get("unsupported") and sr.get("answer") is not None:
            answers.append(f"{label}: `{json.dumps(sr['answer'])}`")
    if answers:
        w("Answers to one POST of the image (seeded weights: deterministic, not real classifications): "
          + "; ".join(answers))
        w("")
        base, fp = res.get("baseline"), res["server"].get("fp32")
        if base and fp and not fp.get("unsupported") and base.get("answer") and fp.get("answer") \
                and base["answer"] != fp["answer"]:
            w("NOTE: inferd fp32 and the baseline answered differently for the same image and model.")
            w("")
    if errors:
        w("## Errors (something broke)")
        w("")
        for e in errors:
            w("- " + e.replace("\n", "\n  "))
        w("")
    return "\n".join(out)


# ---------------------------------------------------------------- main

def resolve_config(args):
    flags = []
    if args.config:
        flags += ["--config", args.config]
    for key in ("threads", "model_instances", "max_batch", "batch_delay_us", "http_threads"):
        v = getattr(args, key)
        if v is not None:
            flags += ["--" + key.replace("_", "-"), str(v)]
    p = run([os.path.join(args.build, "inferd"), "--check-config"] + flags, timeout=60, cwd=args.root)
    if p.returncode != 0:
        sys.exit(f"bench: inferd --check-config {' '.join(flags)} failed: {p.stderr.strip()}")
    c = json.loads(p.stdout)
    cpus = os.cpu_count() or 1
    # 0 means "derive from the CPU count", as inferd does (src/main.c).
    instances = c["model_instances"] if c["model_instances"] > 0 else cpus
    threads_eff = c["threads"] if c["threads"] > 0 else max(1, cpus // instances)
    return {"flags": flags, "threads": c["threads"], "threads_eff": threads_eff,
            "model_instances": instances, "max_batch": c["max_batch"],
            "batch_delay_us": c["batch_delay_us"], "http_threads": c["http_threads"], "optimize": c["optimize"]}


def machine_info(args):
    cpu = platform.processor() or "unknown CPU"
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and cpu in ("unknown CPU", "", "x86_64"):
                    cpu = line.split(":", 1)[1].strip()
                if line.startswith("flags"):
                    flags = line
    except OSError:
        pass
    commit = "unknown"
    try:
        p = run(["git", "-C", args.root, "rev-parse", "--short", "HEAD"], timeout=10)
        if p.returncode == 0:
            commit = p.stdout.strip()
            d = run(["git", "-C", args.root, "status", "--porcelain", "--untracked-files=no"], timeout=10)
            if d.stdout.strip():
                commit += " (+ uncommitted changes)"
    except (OSError, subprocess.SubprocessError):
        pass
    import torch
    from PIL import Image
    with Image.open(args.image) as im:
        size = f"{im.size[0]}x{im.size[1]} {im.format}"
    meta = model_meta(args.model)
    return {"date": datetime.datetime.now().isoformat(timespec="seconds"), "commit": commit, "cpu": cpu,
            "cpus": os.cpu_count(), "cpu_bf16": " avx512_bf16" in flags or " amx_bf16" in flags,
            "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()), "load_end": None,
            "model": show_path(args.model, args.root),
            "model_meta": ", ".join(f"{k} {meta[k]}" for k in ("arch", "weights", "seed") if k in meta) or "no metadata",
            "image": show_path(args.image, args.root), "image_bytes": os.path.getsize(args.image),
            "image_size": size, "torch": torch.__version__, "torch_threads": torch.get_num_threads()}


# ---------------------------------------------------------------- 8. overload

def access_entries(path, offset):
    """JSON access-log entries written to path after byte offset."""
    out = []
    with open(path, "rb") as f:
        f.seek(offset)
        for line in f:
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if isinstance(o, dict) and o.get("level") == "access":
                out.append(o)
    return out


def percentile(values, p):
    if not values:
        return None
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def overload_level(args, server, conns, seconds):
    """wrk at conns; the server's own view of it from its access log."""
    offset = os.path.getsize(server.log_path)
    before = server.metrics()
    log(f"overload: wrk {conns} connection(s), {seconds} s")
    r = wrk(args, server.port, conns, seconds)
    after = server.metrics()
    if r is None:
        return None
    time.sleep(0.5)  # the last access lines
    entries = access_entries(server.log_path, offset)
    codes = {}
    for e in entries:
        codes[e.get("status")] = codes.get(e.get("status"), 0) + 1
    lat503 = [e.get("total_ms", 0) for e in entries if e.get("status") == 503 and e.get("path") == "/"]
    images = after.get("inferd_batch_size_sum", 0) - before.get("inferd_batch_size_sum", 0)
    row = {"conns": conns, "seconds": r["seconds"], "goodput": codes.get(200, 0) / r["seconds"],
           "wrk_ok_rps": r["ok_rps"], "codes": codes, "p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"],
           "p99_503_ms": percentile(lat503, 99), "n503": len(lat503), "forwarded": images,
           "socket_errors": r["socket_errors"]}
    log(f"overload: {conns} conns: goodput {row['goodput']:.2f}/s, codes {codes}, 503 p99 {fmt(row['p99_503_ms'])} ms")
    quiesce(server, f"inferd ({conns} conns)")
    return row


def abandoning_clients(args, server, n):
    """n curl clients that give up after 100 ms, all at once: images the model still ran."""
    offset = os.path.getsize(server.log_path)
    before = server.metrics().get("inferd_batch_size_sum", 0)
    url = f"http://127.0.0.1:{server.port}/"
    procs = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", "--max-time", "0.1", "-F", f"image=@{args.image}", url],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n)]
    for p in procs:
        p.wait(60)
    # Wait until every request has been dealt with (forwarded or dropped).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status, body = http_request(server.port, "GET", "/metrics", timeout=5)
            m = re.search(r"^inferd_requests_in_flight (\d+)", body.decode(), re.M)
            if status == 200 and m and int(m.group(1)) <= 1:
                break
        except OSError:
            pass
        time.sleep(0.1)
    time.sleep(0.5)
    forwarded = server.metrics().get("inferd_batch_size_sum", 0) - before
    codes = {}
    for e in access_entries(server.log_path, offset):
        if e.get("path") == "/":
            codes[e.get("status")] = codes.get(e.get("status"), 0) + 1
    log(f"overload: {n} clients giving up after 100 ms: {forwarded:.0f} image(s) forwarded, codes {codes}")
    return {"clients": n, "forwarded": forwarded, "codes": codes}


def overload_run(args, cfg):
    seconds = args.duration
    res = {"queue": args.overload_queue, "seconds": seconds}
    # Capacity: the server as configured, 16 connections; then, on the same
    # server (default queue, so every abandoning client is admitted), the
    # clients that give up after 100 ms.
    server = Inferd(args, list(cfg["flags"]) + ["--log-format", "json"], "inferd-overload-capacity.log")
    try:
        server.start()
    except RuntimeError as e:
        broke(str(e))
        return res
    try:
        cap = load_server(args, server, "inferd capacity", (16,), seconds)
        res["capacity"] = cap["rows"][0]["ok_rps"] if cap.get("rows") else None
        res["capacity_row"] = cap["rows"][0] if cap.get("rows") else None
        quiesce(server, "inferd capacity")
        res["abandon"] = abandoning_clients(args, server, ABANDONING_CLIENTS)
    finally:
        rc = server.stop()
    if rc != 0:
        broke(f"inferd (capacity) exited {rc} after SIGTERM:\n{tail(server.log_path)}")
    flags = list(cfg["flags"]) + ["--queue-capacity", str(args.overload_queue), "--log-format", "json"]
    server = Inferd(args, flags, "inferd-overload.log")
    try:
        server.start()
    except RuntimeError as e:
        broke(str(e))
        return res
    try:
        with open(args.image, "rb") as f:
            image_bytes = f.read()
        warm_up(server, "inferd overload", image_bytes, args.warmup_clients, args.warmup_requests)
        quiesce(server, "inferd overload")
        res["levels"] = [overload_level(args, server, c, seconds) for c in OVERLOAD_CONNECTIONS]
    finally:
        rc = server.stop()
    if rc != 0:
        broke(f"inferd (overload) exited {rc} after SIGTERM:\n{tail(server.log_path)}")
    return res


def overload_report(args, info, cfg, res):
    cap = res.get("capacity")
    lines = [f"# inferd overload benchmark ({info['date']}, commit {info['commit']})", "",
             f"{info['cpu']}, {info['cpus']} CPUs; load average {info['load_start']} at start, "
             f"{info['load_end']} at end. Image {info['image']} ({info['image_size']}), model {info['model']}.",
             f"Settings: model_instances {cfg['model_instances']}, threads {cfg['threads_eff']}, max_batch "
             f"{cfg['max_batch']}; overload levels with queue_capacity {res['queue']}; {res['seconds']} s per level.",
             ""]
    rows = [["16 (capacity, default queue)", fmt(cap, 2) if cap is not None else "-", "1.00", "-", "-", "-"]]
    verdicts = []
    for r in res.get("levels") or []:
        if not r:
            continue
        ratio = r["goodput"] / cap if cap else None
        ok_ratio = ratio is not None and ratio >= TARGET_GOODPUT_RATIO
        ok_503 = r["p99_503_ms"] is None or r["p99_503_ms"] <= TARGET_ADMISSION_503_P99_MS
        verdicts += [ok_ratio, ok_503]
        codes = " ".join(f"{k}:{v}" for k, v in sorted(r["codes"].items(), key=lambda kv: str(kv[0])))
        rows.append([f"{r['conns']}", fmt(r["goodput"], 2), fmt(ratio, 2) + f" {verdict(ok_ratio)}",
                     f"{fmt(r['p99_503_ms'], 1)} ({r['n503']}) {verdict(ok_503)}", codes,
                     socket_errors_str(r["socket_errors"])])
    lines.append(md_table(["connections", "200s per second", f"/ capacity (>= {TARGET_GOODPUT_RATIO})",
                           f"503 p99 ms, server log (<= {TARGET_ADMISSION_503_P99_MS:g})", "statuses (server log)",
                           "client socket errors"], rows))
    ab = res.get("abandon")
    if ab:
        limit = cfg["model_instances"] * cfg["max_batch"]
        ok = ab["forwarded"] <= limit
        verdicts.append(ok)
        codes = " ".join(f"{k}:{v}" for k, v in sorted(ab["codes"].items(), key=lambda kv: str(kv[0])))
        lines += ["", f"{ab['clients']} clients giving up after 100 ms (`curl --max-time 0.1`): "
                      f"{ab['forwarded']:.0f} image(s) reached the model (target <= workers x max_batch = {limit}) "
                      f"{verdict(ok)}; statuses logged: {codes}."]
    lines += ["", "All targets met." if verdicts and all(verdicts) else "Some targets not met (see above)."]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", default=ROOT)
    ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
    ap.add_argument("--model", required=True)
    ap.add_argument("--class-index", default=None)
    ap.add_argument("--image", required=True)
    ap.add_argument("--shared-dir", default=None, help="photos for the bf16 agreement (../shared/data)")
    ap.add_argument("--quick", action="store_true", help="short runs (5 s per load level)")
    ap.add_argument("--precision", choices=("fp32", "bf16", "int8", "both", "all"), default="fp32",
                    help="both = fp32 + bf16; all = fp32 + bf16 + int8")
    ap.add_argument("--model-int8", default=None,
                    help="the int8 model file (export_model.py --quantize int8) for --precision int8/all")
    ap.add_argument("--batching-sweep", action="store_true")
    ap.add_argument("--duration", type=int, default=None, help="seconds per wrk level (20; --quick 5)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the gunicorn baseline")
    ap.add_argument("--config", default=None, help="config file for inferd (default ./config.json if present)")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--model-instances", type=int)
    ap.add_argument("--max-batch", type=int)
    ap.add_argument("--batch-delay-us", type=int)
    ap.add_argument("--http-threads", type=int)
    ap.add_argument("--results", default=None, help="output folder (bench-results)")
    ap.add_argument("--overload", action="store_true", help="only the overload benchmark of issue 16")
    ap.add_argument("--overload-queue", type=int, default=4, help="queue_capacity for the overload levels")
    args = ap.parse_args()

    args.root = os.path.abspath(args.root)
    args.build = os.path.abspath(args.build)
    args.model = os.path.abspath(args.model)
    args.model_int8 = os.path.abspath(args.model_int8) if args.model_int8 else None
    args.image = os.path.abspath(args.image)
    args.class_index = os.path.abspath(args.class_index or os.path.join(args.root, "imagenet_class_index.json"))
    args.shared_dir = os.path.abspath(args.shared_dir or os.path.join(args.root, "..", "shared", "data"))
    args.results = os.path.abspath(args.results or os.path.join(args.root, "bench-results"))
    if args.config:
        args.config = os.path.abspath(args.config)
    args.duration = args.duration or (5 if args.quick else 20)
    args.sweep_duration = args.duration
    args.warmup_clients, args.warmup_requests = 4, 2
    args.model_seconds = 2 if args.quick else 5
    args.preprocess_iterations = 50 if args.quick else 300
    args.wrk_timeout = 30
    os.makedirs(os.path.join(args.results, "logs"), exist_ok=True)
    precisions = {"both": ["fp32", "bf16"], "all": ["fp32", "bf16", "int8"]}.get(args.precision, [args.precision])
    if "int8" in precisions and not args.model_int8:
        sys.exit("bench: --precision int8/all needs --model-int8 (scripts/bench.sh exports one)")
    for path, what in ((args.model, "model"), (args.image, "image"), (args.class_index, "class index"),
                       (args.model_int8 if "int8" in precisions else args.model, "int8 model")):
        if not os.path.isfile(path):
            sys.exit(f"bench: {what} {path} not found")

    info = machine_info(args)
    cfg = resolve_config(args)
    res = {"cfg": cfg, "precisions": precisions, "model": {}, "server": {}}
    log(f"settings: threads {cfg['threads_eff']}, instances {cfg['model_instances']}, max_batch {cfg['max_batch']}, "
        f"load average {info['load_start']}")
    if args.overload:
        ores = overload_run(args, cfg)
        info["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
        text = overload_report(args, info, cfg, ores)
        print(text, flush=True)
        with open(os.path.join(args.results, "overload.md"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(args.results, "overload.json"), "w") as f:
            json.dump({"info": info, "results": ores, "errors": errors}, f, indent=1, default=str)
        return 1 if errors else 0

    def bf16_off(message):
        res["bf16_unsupported"] = True
        res["model"]["bf16"] = res["server"]["bf16"] = {"unsupported": True, "message": message}
        print("bf16: not supported on this CPU", flush=True)
        log(message or "")

    prim = precisions[0]
    # 1. model limit (primary precision)
    res["model"][prim] = model_limit(args, cfg, prim)
    if prim == "bf16" and res["model"][prim] and res["model"][prim].get("unsupported"):
        bf16_off(res["model"][prim]["message"])
    # 2. preprocessing
    res["pre_c"] = preprocess_c(args)
    try:
        res["pre_py"] = preprocess_pil(args)
    except Exception as e:  # noqa: BLE001 - report and go on
        broke(f"PIL preprocessing failed: {e}")
        res["pre_py"] = None
    # 3. inferd under load
    if not res.get("bf16_unsupported"):
        res["server"][prim] = inferd_run(args, cfg, prim, CONNECTIONS, args.duration)
        if res["server"][prim] and res["server"][prim].get("unsupported"):
            bf16_off(res["server"][prim]["message"])
    # 4. baseline
    res["baseline"] = None if args.no_baseline else baseline_run(args, CONNECTIONS, args.duration)
    # 6. the other precisions + their agreement with fp32
    for prec in precisions[1:]:
        res["model"][prec] = model_limit(args, cfg, prec)
        if prec == "bf16" and res["model"][prec] and res["model"][prec].get("unsupported"):
            bf16_off(res["model"][prec]["message"])
            continue
        res["server"][prec] = inferd_run(args, cfg, prec, CONNECTIONS, args.duration)
        if prec == "bf16" and res["server"][prec] and res["server"][prec].get("unsupported"):
            bf16_off(res["server"][prec]["message"])
    # 6b. the lone-request boost (issue 14), at 1 and 16 connections right
    # after the default runs: fp32 with it off; int8 (off by default, its
    # quantized kernels are built for one thread count) with it forced on
    res["lone_off"] = {}
    if not args.quick:
        for prec in [p for p in precisions if p in ("fp32", "int8")]:
            sr = res["server"].get(prec)
            if sr and not sr.get("unsupported"):
                forced = prec == "int8"
                res["lone_off"][prec] = inferd_run(
                    args, cfg, prec, (1, 16), args.duration,
                    extra_flags=["--lone-request-threads", str(os.cpu_count() or 2) if forced else "1"],
                    logname=f"inferd-{prec}-lone-{'forced' if forced else 'off'}.log")
                if res["lone_off"][prec]:
                    res["lone_off"][prec]["forced_on"] = forced
    res["agreement"] = {}
    for prec in precisions:
        if prec == "fp32" or (prec == "bf16" and res.get("bf16_unsupported")):
            continue
        ag = precision_agreement(args, cfg, prec)
        if ag and ag.get("unsupported"):
            bf16_off(ag["message"])
        else:
            res["agreement"][prec] = ag
    # 7. batching sweep
    if args.batching_sweep and not (prim == "bf16" and res.get("bf16_unsupported")):
        res["sweep"] = []
        for mb in (1, 2, 4, 8):
            for delay in (0, 2000):
                sr = inferd_run(args, cfg, prim, (16,), args.sweep_duration,
                                extra_flags=["--max-batch", str(mb), "--batch-delay-us", str(delay)],
                                logname=f"inferd-sweep-b{mb}-d{delay}.log")
                row = sr["rows"][0] if sr and not sr.get("unsupported") and sr["rows"] else None
                res["sweep"].append({"max_batch": mb, "delay": delay, "row": row})

    info["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    text = report(args, info, res)
    print(text, flush=True)
    with open(os.path.join(args.results, "latest.md"), "w") as f:
        f.write(text + "\n")

    def strip(o):
        if isinstance(o, dict):
            return {k: strip(v) for k, v in o.items() if k != "text"}
        if isinstance(o, list):
            return [strip(v) for v in o]
        return o
    with open(os.path.join(args.results, "latest.json"), "w") as f:
        json.dump(strip({"info": info, "results": res, "errors": errors}), f, indent=1)
    log(f"written {os.path.relpath(os.path.join(args.results, 'latest.md'), args.root)}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
