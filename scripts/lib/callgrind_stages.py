#!/usr/bin/python3
"""Splits a callgrind dump of N identical requests (scripts/profile_request.sh)
into the stages of inferd's request path, in instructions per request.

    callgrind_stages.py CALLGRIND_FILE N IMAGE

Each stage is the inclusive cost of the functions that do it (callgrind's
own call graph, all threads together); "HTTP transport and the rest" is
what is left of the program total: libmicrohttpd reading and parsing the
request, writing the answer, thread hand-offs, the kernel-call wrappers.
"""
import re
import subprocess
import sys

# stage -> the functions whose inclusive cost it is (entry points that do
# not call each other, so their costs add up)
STAGES = [
    ("receive upload + multipart parsing", ["MHD_post_process", "receive_body"]),
    ("decode (header probe + window decode)", ["image_probe_oriented", "image_decode_window"]),
    ("resize + crop + normalise", ["preprocess_run_window"]),
    ("batcher hand-off (queue)", ["batcher_submit", "batcher_expect"]),
    ("model forward (the stub: not counted as request CPU)", ["model_forward_threads"]),
    ("answer: top-k, labels, JSON", ["seed_results"]),
]


def inclusive_costs(path):
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
                         check=True, capture_output=True, text=True).stdout
    total = None
    costs = {}
    for line in out.splitlines():
        m = re.match(r"^\s*([0-9,]+)\s+(?:\([^)]*\)\s+)?PROGRAM TOTALS", line)
        if m:
            total = int(m.group(1).replace(",", ""))
            continue
        m = re.match(r"^\s*([0-9,]+)\s+(?:\([^)]*\)\s+)?(?:\*\s+)?\S*?:?([A-Za-z_][A-Za-z0-9_]*)(?:'\d+)?\s", line + " ")
        if m:
            name = m.group(2)
            cost = int(m.group(1).replace(",", ""))
            costs[name] = max(costs.get(name, 0), cost)
    return total, costs


def main():
    path, n, image = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    total, costs = inclusive_costs(path)
    if not total:
        sys.exit("callgrind_stages: no program total in " + path)
    rows, counted = [], 0
    for stage, funcs in STAGES:
        ir = sum(costs.get(f, 0) for f in funcs)
        if "model forward" not in stage:
            counted += ir
        rows.append((stage, ir))
    model = dict(rows)["model forward (the stub: not counted as request CPU)"]
    rest = total - counted - model
    rows.append(("HTTP transport and the rest", rest))
    print(f"Instructions per request (callgrind, {n} requests of `{image}`, inferd with the stub model, "
          f"one HTTP thread, one worker):")
    print()
    print("| stage | instructions / request | share of non-model |")
    print("|---|---:|---:|")
    non_model = total - model
    for stage, ir in rows:
        share = "" if "model forward" in stage else f"{ir / non_model:.1%}"
        print(f"| {stage} | {ir / n:,.0f} | {share} |")
    print(f"| **non-model total** | **{non_model / n:,.0f}** | 100% |")


if __name__ == "__main__":
    main()
