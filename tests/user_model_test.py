#!/usr/bin/env python3
"""A user's own fine-tuned model (issue 15): a ResNet-18 with 12 classes,
exported with scripts/export_model.py --from-state-dict and a text label file
(one label per line), served by build/inferd: class_id is the index as a
string, class_name the line, and both match the Python reference on the same
file. Also: the start-up log says where each preprocessing value came from;
a label file with the wrong count stops the server naming both numbers; the
exporter refuses a label count that does not match the model.

    /usr/bin/python3 tests/user_model_test.py --binary build/inferd --shared-dir ../shared/data
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(HERE, "lib"))

import torch  # noqa: E402
import torchvision  # noqa: E402

import reference  # noqa: E402
from checks import check, results, server_test_parser, loads  # noqa: E402
from server import Server, multipart  # noqa: E402

LABELS = ["daisy", "dandelion", "rose", "sunflower", "tulip", "orchid", "lily", "lotus", "iris",
          "poppy", "peony", "magnolia"]


def main():
    ap = server_test_parser(__doc__.split("\n\n")[0])
    args = ap.parse_args()
    photos = sorted(os.path.join(args.shared_dir, f) for f in os.listdir(args.shared_dir) if f.endswith(".jpg"))
    with tempfile.TemporaryDirectory(prefix="inferd-user-model-") as d:
        torch.manual_seed(12)
        net = torchvision.models.resnet18(weights=None, num_classes=12).eval()
        state = os.path.join(d, "flowers.pth")
        torch.save(net.state_dict(), state)
        labels = os.path.join(d, "labels.txt")
        with open(labels, "w") as f:
            f.write("\n".join(LABELS) + "\n")
        model = os.path.join(d, "flowers.pt")
        export = [sys.executable, os.path.join(ROOT, "scripts", "export_model.py"), "--from-state-dict", state,
                  "--arch", "resnet18", "--num-classes", "12", "--labels", labels, "--name", "flowers",
                  "--out", model]
        proc = subprocess.run(export, capture_output=True, text=True, timeout=600)
        if not check(proc.returncode == 0, "export --from-state-dict: " + proc.stderr[-2000:]):
            return results.finish()
        meta = reference.read_model_meta(model)
        check(meta["num_classes"] == 12 and meta["weights"] == "user" and meta["name"] == "flowers",
              "metadata: %s" % meta)
        check(meta["preprocess"]["resize"] == 256 and meta["preprocess"]["interpolation"] == "bilinear",
              "resnet18's preprocessing recorded: %s" % meta["preprocess"])

        # A wrong label count is refused by the exporter, naming both numbers.
        short = os.path.join(d, "short.txt")
        with open(short, "w") as f:
            f.write("\n".join(LABELS[:11]) + "\n")
        proc = subprocess.run(export[:-4] + ["--labels", short, "--out", os.path.join(d, "x.pt")],
                              capture_output=True, text=True, timeout=600)
        check(proc.returncode != 0 and "12" in proc.stderr and "11" in proc.stderr,
              "exporter with 11 labels for 12 outputs: rc %d, %s" % (proc.returncode, proc.stderr[-300:]))

        ref_model = reference.load_model(model)
        transform = reference.build_transform(**reference.preprocess_from_meta(meta))
        empty = os.path.join(d, "empty.json")  # not the repository's ./config.json
        with open(empty, "w") as f:
            f.write("{}")
        server = Server(args.binary, model, labels, ["--config", empty, "--model-instances", "1", "--threads", "2"])
        try:
            log = server.log()
            check("resize 256 (model file)" in log and "interpolation bilinear (model file)" in log,
                  "start-up log names the model file as the source of the preprocessing:\n" + log)
            seen = set()
            for photo in photos:
                with open(photo, "rb") as f:
                    body, ctype = multipart([("image", os.path.basename(photo), f.read())])
                status, _, data = server.request("POST", "/", body, {"Content-Type": ctype})
                answer = loads(data)
                logits = reference.forward(ref_model, reference.preprocess(photo, transform))
                want = int(logits.argmax())
                check(status == 200 and answer == {"class_id": str(want), "class_name": LABELS[want]},
                      "%s: %s %s, want %s" % (os.path.basename(photo), status, data[:200],
                                             {"class_id": str(want), "class_name": LABELS[want]}))
                seen.add(want)
            with open(photos[0], "rb") as f:
                status, _, data = server.request("POST", "/?topk=12", f.read(), {"Content-Type": "image/jpeg"})
            preds = (loads(data) or {}).get("predictions", [])
            check(status == 200 and sorted(p["class_name"] for p in preds) == sorted(LABELS)
                  and all(p["class_id"] == str(LABELS.index(p["class_name"])) for p in preds),
                  "topk=12 lists the 12 labels with their indices: %s" % data[:300])
        finally:
            check(server.stop() == 0, "server exits 0 on SIGTERM")

        # The server refuses labels whose count differs from the model's outputs.
        proc = subprocess.run([args.binary, "--addr", "127.0.0.1", "--port", "0", "--model", model,
                               "--class-index", short], capture_output=True, text=True, timeout=300)
        check(proc.returncode != 0 and "12" in proc.stderr and "11" in proc.stderr,
              "server with 11 labels for a 12-class model: rc %d, %s" % (proc.returncode, proc.stderr[-400:]))
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
