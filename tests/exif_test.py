#!/usr/bin/env python3
"""EXIF orientation parity: the C pipeline against PIL for orientations 1-8.

    exif_test.py --parity-tool build/parity_tool

Writes a non-square synthetic image with EXIF Orientation 1..8 (plus a few
malformed tags) in every format that carries it, runs the C pipeline with
exif_orientation off and on (parity_tool [--exif-orientation]), and requires
bit-identical tensors to the reference:
  off: Image.open(f).convert('RGB')                          (the seed's behaviour)
  on:  ImageOps.exif_transpose(Image.open(f)).convert('RGB') (issue 13)
then the same Resize/CenterCrop/ToTensor/Normalize as scripts/reference.py.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "scripts"))
sys.path.insert(0, HERE)
import reference  # noqa: E402
import make_test_images  # noqa: E402

# Format -> PIL save arguments. Each must round-trip the EXIF block so that
# PIL itself sees the orientation (checked below, so the test cannot pass
# vacuously on a file without it).
FORMATS = {
    "jpg": ("JPEG", dict(quality=90)),
    "png": ("PNG", {}),
    "webp": ("WEBP", dict(lossless=True)),
    "tif": ("TIFF", {}),                            # Orientation tag in IFD0
    "lzw.tif": ("TIFF", dict(compression="tiff_lzw")),
}


def exif_bytes(orientation):
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def write_images(outdir):
    # 300x180 is not square, so a 5..8 orientation must swap the axes; the
    # content is position-dependent, so every transposition differs.
    base = Image.fromarray(make_test_images.synthetic_rgb(300, 180, 1234), "RGB")
    files = []
    for ext, (fmt, kw) in FORMATS.items():
        for o in range(1, 9):
            name = "exif_o%d.%s" % (o, ext)
            base.save(os.path.join(outdir, name), fmt, exif=exif_bytes(o), **kw)
            files.append((name, o))
        # Out-of-range values are ignored by exif_transpose (libtiff will not
        # write them, so not for TIFF).
        for o in ((0, 9) if fmt != "TIFF" else ()):
            name = "exif_bad%d.%s" % (o, ext)
            base.save(os.path.join(outdir, name), fmt, exif=exif_bytes(o), **kw)
            files.append((name, None))
        name = "exif_none.%s" % ext
        base.save(os.path.join(outdir, name), fmt, **kw)
        files.append((name, None))
    return files


def reference_tensor(path, transpose):
    transform = reference.build_transform()
    with Image.open(path) as im:
        # Pillow 9.4's TIFF loader already transposes by the Orientation tag
        # (TiffImageFile.load_end), so Image.open is oriented for TIFF with
        # either setting; exif_transpose would transpose it a second time (a
        # Pillow bug inferd deliberately does not reproduce: README, formats).
        if transpose and im.format != "TIFF":
            im = ImageOps.exif_transpose(im)
        return transform(im.convert("RGB")).contiguous().numpy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parity-tool", required=True)
    args = ap.parse_args()
    failures = 0
    checked = 0
    with tempfile.TemporaryDirectory() as tmp:
        files = write_images(tmp)
        for name, o in files:
            with Image.open(os.path.join(tmp, name)) as im:
                seen = im.getexif().get(0x0112)
                im.load()
                if im.format == "TIFF" and o is not None and o >= 5 and im.size != (180, 300):
                    print("FAIL %s: Pillow's loader no longer orients TIFF (size %s)" % (name, im.size))
                    failures += 1
            if o is not None and seen != o:
                print("FAIL %s: PIL reads orientation %r, expected %d" % (name, seen, o))
                failures += 1
        for setting in (False, True):
            out = os.path.join(tmp, "out-%d" % setting)
            os.makedirs(out)
            cmd = [args.parity_tool, "--no-model", "--out-dir", out]
            if setting:
                cmd.append("--exif-orientation")
            proc = subprocess.run(cmd + [os.path.join(tmp, n) for n, _ in files], stdout=subprocess.PIPE,
                                  universal_newlines=True, timeout=300)
            if proc.returncode != 0 or "ERROR" in proc.stdout:
                print("FAIL parity_tool (exif_orientation=%s): rc %d\n%s" % (setting, proc.returncode, proc.stdout))
                failures += 1
                continue
            for name, o in files:
                ref = reference_tensor(os.path.join(tmp, name), setting)
                c = np.fromfile(os.path.join(out, name + ".tensor.f32"), dtype="<f4").reshape(ref.shape)
                diff = float(np.abs(c.astype(np.float64) - ref.astype(np.float64)).max())
                checked += 1
                if diff != 0:
                    failures += 1
                    print("FAIL %s exif_orientation=%s: max |dt| %.3g" % (name, setting, diff))
                else:
                    print("ok   %s exif_orientation=%s" % (name, setting))
        # The orientation must matter: with the setting on (and for TIFF with
        # either setting) orientation 6 differs from orientation 1.
        for ext in FORMATS:
            a = np.fromfile(os.path.join(tmp, "out-1", "exif_o1.%s.tensor.f32" % ext), dtype="<f4")
            b = np.fromfile(os.path.join(tmp, "out-1", "exif_o6.%s.tensor.f32" % ext), dtype="<f4")
            if np.array_equal(a, b):
                print("FAIL %s: orientation 6 gives the tensor of orientation 1" % ext)
                failures += 1
    print("%d tensors compared, %d failures" % (checked, failures))
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
