"""What every Python server test shares: counting checks, the common
command-line options, finding the test model, and reading JSON error bodies. Each test prints "N passed, M failed"
alone on its last line through finish()."""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = []

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failed.append(what)
            print("FAIL:", what, flush=True)
        return cond

    def finish(self):
        """Prints the closing line; returns the exit status."""
        print(f"{self.passed} passed, {len(self.failed)} failed")
        return 1 if self.failed else 0


results = Results()
check = results.check


def server_test_parser(description):
    """An argument parser with the options every server test takes: the
    binary, the model (default: find_model), the class index and the folder
    of shared photos."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "inferd"))
    ap.add_argument("--model", default=None)
    ap.add_argument("--class-index", default=os.path.join(ROOT, "imagenet_class_index.json"))
    ap.add_argument("--shared-dir", default=os.path.join(ROOT, "..", "shared", "data"))
    return ap


def find_model(arg):
    """The model given, else the ctest fixture's seeded model (exported when missing)."""
    if arg:
        return arg
    path = os.path.join(ROOT, "build", "test-model", "densenet121-seeded0.pt")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "export_model.py"), "--weights", "seeded",
                        "--seed", "0", "--out", path], check=True, timeout=1200)
    return path


def loads(data):
    try:
        return json.loads(data)
    except (ValueError, TypeError):
        return None


def is_json_error(data):
    obj = loads(data)
    return isinstance(obj, dict) and isinstance(obj.get("error"), str) and obj["error"] != ""


def hdr(headers, name):
    for k, v in headers.items():
        if k.lower() == name.lower():
            return v
    return None
