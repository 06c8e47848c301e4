#!/usr/bin/env python3
"""Generate the deterministic image set used by the C-vs-Python parity test.

    /usr/bin/python3 tests/make_test_images.py OUTDIR [--shared-dir DIR]

The C server must turn an uploaded file into exactly the tensor that the
original Flask/PIL pipeline produced, so the set is chosen to hit every place
where two decoders or two resamplers could plausibly disagree:

* odd and extreme geometries (1x1, 2x3, 2000x20, 4000x3000, ...), because the
  "Resize(255) on the short side" rule, the rounding of the long side and the
  centre-crop offsets are all size dependent;
* content with hard edges, 1-pixel checkerboards in a border band and seeded
  noise, because smooth images hide resampling-filter differences (especially
  at the image borders, where filters have to clamp);
* every PNG colour type/bit depth PIL accepts, palette transparency, BMP, GIF,
  WebP (PIL and cwebp: lossy, lossless, alpha, animated), TIFF (PIL and
  ImageMagick: every compression, bit depth and layout inferd converts),
  HEIC and AVIF (heif-enc; their reference is heif-convert's PNG),
  and the common JPEG flavours (chroma subsampling, progressive, grayscale,
  EXIF orientation, which PIL does *not* apply);
* a few files PIL rejects, so that "both sides reject the same files" is
  actually tested.

Everything is derived from fixed seeds (numpy's legacy RandomState, whose
stream is frozen across numpy versions), so two runs with the same
PIL/zlib/libjpeg produce identical files.  Never point OUTDIR into the
repository: the test passes a temporary directory.

Importable: ``generate(outdir, shared_dir)`` returns the manifest as a list of
dicts; ``synthetic_rgb(w, h, seed)`` is the synthetic content generator.
"""

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib

import numpy as np
from PIL import Image, ImageDraw

# Default shared data dir: <project>/../shared/data, resolved from this file
# so the script works regardless of the caller's working directory.
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SHARED_DIR = os.path.normpath(os.path.join(PROJECT_ROOT, "..", "shared", "data"))

# Formats whose decode is exactly specified, so C and PIL must agree bit for bit.
# WebP, TIFF and HEIF are decoded by the same libraries on both sides
# (libwebp, libtiff; libheif through heif-convert), so they must agree exactly too.
LOSSLESS_FORMATS = ("PNG", "BMP", "GIF", "WEBP", "TIFF", "HEIF")

# External encoders the WebP/TIFF/HEIF variants come from (Debian packages
# webp, imagemagick, libheif-examples: scripts/install-deps.sh test group).
CWEBP = "cwebp"
CONVERT = "convert"
HEIF_ENC = "heif-enc"
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")


def _seed_for(name):
    """Stable per-image seed derived from the file name (crc32 is stable across runs/platforms)."""
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def synthetic_rgb(w, h, seed):
    """Deterministic HxWx3 uint8 test content.

    Gradients give every pixel a different value, a high-frequency pattern and
    a 1-pixel checkerboard border band make the resampling filter matter
    (including its edge clamping), the drawn shapes add hard edges partly
    outside the frame, and seeded noise keeps neighbouring pixels distinct.
    """
    rs = np.random.RandomState(seed)
    # float32 and broadcasting keep the 4000x3000 case reasonably fast.
    x = np.arange(w, dtype=np.float32)[None, :]
    y = np.arange(h, dtype=np.float32)[:, None]
    r = np.broadcast_to(x * (255.0 / max(w - 1, 1)), (h, w))
    g = np.broadcast_to(y * (255.0 / max(h - 1, 1)), (h, w))
    b = 128.0 + 100.0 * np.sin(x * 0.9 + y * 0.37) * np.cos(y * 0.23)
    img = np.stack([r, g, b], axis=-1)

    # 1-pixel checkerboard in a band along all four edges.
    band = max(1, min(w, h) // 16)
    checker = (((np.arange(h)[:, None] + np.arange(w)[None, :]) & 1) * 255).astype(np.float32)
    edge = np.zeros((h, w), dtype=bool)
    edge[:band, :] = edge[-band:, :] = True
    edge[:, :band] = edge[:, -band:] = True
    img[edge, 1] = checker[edge]

    noise = rs.randint(-24, 25, size=img.shape).astype(np.float32)
    img = np.clip(img + noise, 0, 255).astype(np.uint8)

    # Shapes, some deliberately overlapping the frame border.
    pil = Image.fromarray(img, "RGB")
    draw = ImageDraw.Draw(pil)
    for _ in range(6):
        x0, x1 = sorted(rs.randint(-w // 4 - 1, w + w // 4 + 1, size=2))
        y0, y1 = sorted(rs.randint(-h // 4 - 1, h + h // 4 + 1, size=2))
        colour = tuple(int(c) for c in rs.randint(0, 256, size=3))
        if rs.rand() < 0.5:
            draw.rectangle([x0, y0, x1, y1], fill=colour)
        else:
            draw.ellipse([x0, y0, x1, y1], outline=colour, width=max(1, min(w, h) // 50))
    return np.asarray(pil)


def _write_png_raw(path, arr, colour_type, bit_depth):
    """Minimal PNG writer for what PIL cannot write (16-bit RGB/RGBA).

    PIL has no 48/64-bit RGB(A) mode, so we emit the chunks ourselves:
    IHDR, one zlib-compressed IDAT with filter type 0 per row, IEND.
    """
    h, w = arr.shape[:2]
    dtype = ">u2" if bit_depth == 16 else "u1"
    rows = arr.reshape(h, -1).astype(dtype)
    raw = b"".join(b"\x00" + rows[y].tobytes() for y in range(h))

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, colour_type, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def _palette_image(w, h, seed, ncolours):
    """A 'P' image with a seeded palette of ncolours entries (short palettes are legal)."""
    rs = np.random.RandomState(seed)
    rgb = synthetic_rgb(w, h, seed)
    # Index from a function of the content so the palette image keeps its
    # edges/noise and uses (nearly) every palette entry.
    r, g, b = (rgb[..., c].astype(np.int32) for c in range(3))
    idx = ((r >> 2) + (g >> 3) * 3 + (b >> 4) * 5) % ncolours
    im = Image.fromarray(idx.astype(np.uint8), "P")
    im.putpalette(rs.randint(0, 256, size=3 * ncolours).astype(np.uint8).tobytes())
    return im


def _alpha_ramp(w, h, seed):
    """Alpha varying over the full 0..255 range plus noise (alpha must be ignored, not composited)."""
    rs = np.random.RandomState(seed + 1)
    a = (np.arange(w)[None, :] * 255 // max(w - 1, 1) + np.zeros((h, 1), dtype=np.int64))
    a = a ^ (np.arange(h)[:, None] * 7 & 0x3F)
    a = np.clip(a + rs.randint(-8, 9, size=(h, w)), 0, 255)
    return a.astype(np.uint8)


def _photos(shared_dir):
    if not shared_dir or not os.path.isdir(shared_dir):
        return []
    return sorted(f for f in os.listdir(shared_dir) if f.lower().endswith((".jpg", ".jpeg", ".png")))


def generate(outdir, shared_dir=DEFAULT_SHARED_DIR, include_invalid=True):
    """Write the parity image set into outdir and return its manifest.

    Each manifest entry: {"file", "path", "format", "mode", "size", "valid"}.
    format/mode/size are what PIL reports when it re-opens the written file
    (so e.g. a 16-bit gray PNG shows mode "I"); invalid files have format None.
    """
    os.makedirs(outdir, exist_ok=True)
    written = []  # list of (file name, expected valid)

    def path(name):
        return os.path.join(outdir, name)

    def save(im, name, **kw):
        im.save(path(name), **kw)
        written.append((name, True))

    # --- PNG RGB at the sizes that stress Resize/CenterCrop arithmetic -----
    for w, h in [(1, 1), (2, 3), (2000, 20), (20, 2000), (224, 224), (255, 255), (256, 256),
                 (257, 263), (301, 225), (1023, 767), (4000, 3000)]:
        name = "png_rgb_%dx%d.png" % (w, h)
        save(Image.fromarray(synthetic_rgb(w, h, _seed_for(name)), "RGB"), name)

    # --- other PNG colour types / bit depths --------------------------------
    name = "png_palette_64colours_257x199.png"
    save(_palette_image(257, 199, _seed_for(name), 64), name)

    # tRNS with one alpha byte per (leading) palette entry; PIL's convert('RGB')
    # ignores it and just looks the palette up.
    name = "png_palette_trns_300x211.png"
    im = _palette_image(300, 211, _seed_for(name), 16)
    save(im, name, transparency=bytes([0, 64, 128, 200] + [255] * 4))

    name = "png_rgba_alpha_263x257.png"
    rgb = synthetic_rgb(263, 257, _seed_for(name))
    rgba = np.dstack([rgb, _alpha_ramp(263, 257, _seed_for(name))])
    save(Image.fromarray(rgba, "RGBA"), name)

    name = "png_gray_L_311x203.png"
    save(Image.fromarray(synthetic_rgb(311, 203, _seed_for(name))[..., 1], "L"), name)

    name = "png_gray_alpha_LA_203x311.png"
    g = synthetic_rgb(203, 311, _seed_for(name))[..., 0]
    la = np.dstack([g, _alpha_ramp(203, 311, _seed_for(name))])
    save(Image.fromarray(la, "LA"), name)

    name = "png_1bit_299x201.png"
    save(Image.fromarray(synthetic_rgb(299, 201, _seed_for(name))[..., 2], "L").convert("1"), name)

    # 16-bit RGB: PIL reads it as 8-bit RGB keeping only the HIGH byte of each
    # sample (truncation, not rounding).  Values use the whole 0..65535 range
    # with random low bytes so truncation vs rounding would differ.
    name = "png_rgb16_301x197.png"
    rs = np.random.RandomState(_seed_for(name))
    rgb16 = synthetic_rgb(301, 197, _seed_for(name)).astype(np.uint16) * 257
    rgb16 = rgb16 ^ rs.randint(0, 256, size=rgb16.shape).astype(np.uint16)
    _write_png_raw(path(name), rgb16, colour_type=2, bit_depth=16)
    written.append((name, True))

    # 16-bit gray opens as mode "I" and convert('RGB') CLIPS to 0..255 (it
    # does not scale or take the high byte), so anything >255 becomes white.
    # A full-range ramp (plus a low-value region) exercises exactly that.
    name = "png_gray16_I16_fullrange_320x240.png"
    rs = np.random.RandomState(_seed_for(name))
    ramp = np.linspace(0, 65535, 320 * 240).reshape(240, 320)
    ramp[:60, :] = rs.randint(0, 512, size=(60, 320))  # values around the 255 clip point
    save(Image.fromarray(ramp.astype(np.uint16), "I;16"), name)

    # --- BMP -----------------------------------------------------------------
    name = "bmp_rgb24_257x199.bmp"
    save(Image.fromarray(synthetic_rgb(257, 199, _seed_for(name)), "RGB"), name)
    name = "bmp_palette8_199x257.bmp"
    save(_palette_image(199, 257, _seed_for(name), 256), name)
    _bmp_pnm_variants(outdir, written, include_invalid)

    # --- GIF -----------------------------------------------------------------
    # optimize=False: PIL would otherwise drop unused entries, renumber the
    # palette and silently drop a transparency index that no pixel uses.
    name = "gif_palette_241x173.gif"
    save(_palette_image(241, 173, _seed_for(name), 128), name, optimize=False)
    # With transparency PIL still opens frame 0 as "P" and convert('RGB')
    # returns the palette colour of the transparent index (no compositing).
    # The transparent index is the top-left pixel's, so it is certainly used.
    name = "gif_palette_transparent_173x241.gif"
    im = _palette_image(173, 241, _seed_for(name), 128)
    save(im, name, transparency=int(np.asarray(im)[0, 0]), optimize=False)

    # --- JPEG (synthetic content) -------------------------------------------
    base = Image.fromarray(synthetic_rgb(640, 480, _seed_for("jpeg")), "RGB")
    save(base, "jpeg_baseline420_q90_640x480.jpg", quality=90, subsampling=2)
    save(base, "jpeg_baseline422_q90_640x480.jpg", quality=90, subsampling=1)
    save(base, "jpeg_baseline444_q90_640x480.jpg", quality=90, subsampling=0)
    save(base, "jpeg_progressive_640x480.jpg", quality=90, progressive=True)
    save(base.convert("L"), "jpeg_gray_640x480.jpg", quality=90)
    name = "jpeg_tiny_1x1.jpg"
    save(Image.fromarray(synthetic_rgb(1, 1, _seed_for(name)), "RGB"), name, quality=90)
    # Odd width and height: the 4:2:0 chroma planes have a half-used last
    # column/row, which is where upsampling implementations differ.
    name = "jpeg_baseline420_q90_333x517.jpg"
    save(Image.fromarray(synthetic_rgb(333, 517, _seed_for(name)), "RGB"), name,
         quality=90, subsampling=2)
    # EXIF Orientation=6: PIL's Image.open does not rotate, so neither may C.
    exif = Image.Exif()
    exif[0x0112] = 6
    save(Image.fromarray(synthetic_rgb(320, 240, _seed_for("exif")), "RGB"),
         "jpeg_exif_orient6_320x240.jpg", quality=90, exif=exif.tobytes())

    # --- crops / rescales / re-encodes of the shared photos -----------------
    shared = _photos(shared_dir)
    for i, fname in enumerate(shared):
        stem = os.path.splitext(fname)[0]
        with Image.open(os.path.join(shared_dir, fname)) as src:
            photo = src.convert("RGB")
        pw, ph = photo.size
        # Off-centre crop with odd dimensions.
        cw, ch = max(1, (pw * 2 // 3) | 1), max(1, (ph * 3 // 5) | 1)
        x0, y0 = (pw - cw) // 3, (ph - ch) // 4
        name = "png_rgb_photo_%s_crop_%dx%d.png" % (stem, cw, ch)
        save(photo.crop((x0, y0, x0 + cw, y0 + ch)), name)
        # Rescale to an odd size close to the network input (and one that is
        # smaller than 255 on the short side, so Resize upsamples).
        sw, sh = (263, 241) if i % 2 == 0 else (199, 277)
        name = "png_rgb_photo_%s_scaled_%dx%d.png" % (stem, sw, sh)
        save(photo.resize((sw, sh), Image.LANCZOS), name)
        # Re-encode as a different JPEG flavour per photo.
        flavours = [("baseline444_q95", dict(quality=95, subsampling=0)),
                    ("baseline420_q75", dict(quality=75, subsampling=2)),
                    ("progressive_q85", dict(quality=85, progressive=True)),
                    ("baseline422_q90", dict(quality=90, subsampling=1))]
        label, kw = flavours[i % len(flavours)]
        name = "jpeg_%s_photo_%s_%dx%d.jpg" % (label, stem, pw, ph)
        save(photo, name, **kw)
        if i == 0:
            # An adaptive 256-colour palette of a real photo.
            name = "png_palette_photo_%s_adaptive256_%dx%d.png" % (stem, pw, ph)
            save(photo.quantize(256, method=Image.Quantize.MEDIANCUT), name)

    _webp_variants(outdir, written)
    _tiff_variants(outdir, written)
    _heif_variants(outdir, written)

    # --- files PIL rejects ---------------------------------------------------
    if include_invalid:
        with open(path("invalid_garbage.png"), "wb") as f:
            f.write(b"this is not an image\n" * 8)
        written.append(("invalid_garbage.png", False))
        with open(path("invalid_empty.jpg"), "wb") as f:
            pass
        written.append(("invalid_empty.jpg", False))
        # Truncated JPEG: libjpeg only warns and pads with grey, but PIL
        # (LOAD_TRUNCATED_IMAGES=False) raises "image file is truncated".
        with open(path("jpeg_baseline420_q90_640x480.jpg"), "rb") as f:
            data = f.read()
        with open(path("invalid_truncated_jpeg_640x480.jpg"), "wb") as f:
            f.write(data[: len(data) // 2])
        written.append(("invalid_truncated_jpeg_640x480.jpg", False))
        # Truncated PNG (IDAT cut short): PIL raises as well.
        with open(path("png_rgb_301x225.png"), "rb") as f:
            data = f.read()
        with open(path("invalid_truncated_png_301x225.png"), "wb") as f:
            f.write(data[: len(data) * 2 // 3])
        written.append(("invalid_truncated_png_301x225.png", False))
        # Truncated WebP, TIFF (inside the strips) and HEIC: every decoder
        # must refuse a cut file as its reference does.
        for src, dst in (("webp_lossy_q80_301x227.webp", "invalid_truncated_webp_301x227.webp"),
                         ("tiff_rgb_raw_263x199.tif", "invalid_truncated_tiff_263x199.tif"),
                         ("heic_q70_301x227.heic", "invalid_truncated_heic_301x227.heic")):
            with open(path(src), "rb") as f:
                data = f.read()
            with open(path(dst), "wb") as f:
                f.write(data[: len(data) // 2])
            written.append((dst, False))

    return [_describe(path(n), valid) for n, valid in written]


def _run(cmd):
    """Run an external encoder; its absence or failure is a test-set error."""
    try:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except FileNotFoundError:
        sys.exit("make_test_images: %s is missing (scripts/install-deps.sh test)" % cmd[0])
    except subprocess.CalledProcessError as e:
        sys.exit("make_test_images: %s failed: %s" % (" ".join(cmd), e.stderr.decode(errors="replace")[-300:]))


def _webp_variants(outdir, written):
    """WebP from PIL (libwebp) and cwebp: lossy, lossless, alpha, animated."""
    def out(name):
        written.append((name, True))
        return os.path.join(outdir, name)
    rgb = synthetic_rgb(301, 227, _seed_for("webp"))
    im = Image.fromarray(rgb, "RGB")
    rgba = Image.fromarray(np.dstack([rgb, _alpha_ramp(301, 227, _seed_for("webp alpha"))]), "RGBA")
    second = Image.fromarray(synthetic_rgb(301, 227, _seed_for("webp frame 2")), "RGB")
    im.save(out("webp_lossy_q80_301x227.webp"), quality=80)
    im.save(out("webp_lossless_301x227.webp"), lossless=True)
    rgba.save(out("webp_alpha_lossy_301x227.webp"), quality=80)
    rgba.save(out("webp_alpha_lossless_301x227.webp"), lossless=True)
    # Animated: Pillow shows the first frame.
    im.save(out("webp_animated_2frames_301x227.webp"), save_all=True, append_images=[second],
            duration=100, quality=80)
    odd = Image.fromarray(synthetic_rgb(257, 3, _seed_for("webp thin")), "RGB")
    odd.save(out("webp_lossy_thin_257x3.webp"), quality=90)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src.png")
        im.save(src)
        _run([CWEBP, "-quiet", "-q", "75", src, "-o", out("webp_cwebp_q75_301x227.webp")])
        _run([CWEBP, "-quiet", "-q", "75", "-sharp_yuv", src, "-o", out("webp_cwebp_sharpyuv_301x227.webp")])
        _run([CWEBP, "-quiet", "-lossless", src, "-o", out("webp_cwebp_lossless_301x227.webp")])


def _tiff_variants(outdir, written):
    """TIFF from PIL (libtiff for compressed files) and ImageMagick."""
    def out(name):
        written.append((name, True))
        return os.path.join(outdir, name)
    w, h = 263, 199
    rgb = synthetic_rgb(w, h, _seed_for("tiff"))
    im = Image.fromarray(rgb, "RGB")
    im.save(out("tiff_rgb_raw_263x199.tif"))
    im.save(out("tiff_rgb_lzw_263x199.tif"), compression="tiff_lzw")
    im.save(out("tiff_rgb_deflate_263x199.tif"), compression="tiff_adobe_deflate")
    im.save(out("tiff_rgb_packbits_263x199.tif"), compression="packbits")
    im.save(out("tiff_rgb_jpeg_263x199.tif"), compression="jpeg", quality=90)
    im.convert("L").save(out("tiff_gray_lzw_263x199.tif"), compression="tiff_lzw")
    im.convert("L").convert("1").save(out("tiff_bilevel_group4_263x199.tif"), compression="group4")
    im.convert("L").convert("1").save(out("tiff_bilevel_raw_263x199.tif"))
    im.quantize(200).save(out("tiff_palette8_lzw_263x199.tif"), compression="tiff_lzw")
    im.quantize(16).save(out("tiff_palette4_raw_263x199.tif"))
    alpha = _alpha_ramp(w, h, _seed_for("tiff alpha"))
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(out("tiff_rgba_deflate_263x199.tif"),
                                                           compression="tiff_adobe_deflate")
    Image.fromarray(np.dstack([rgb[..., 1], alpha]), "LA").save(out("tiff_gray_alpha_lzw_263x199.tif"),
                                                                compression="tiff_lzw")
    rs = np.random.RandomState(_seed_for("tiff gray16"))
    g16 = np.linspace(0, 65535, w * h).reshape(h, w).astype(np.uint16)
    g16[:40] = rs.randint(0, 600, size=(40, w))  # around the I;16 -> RGB clip at 255
    Image.fromarray(g16, "I;16").save(out("tiff_gray16_lzw_263x199.tif"), compression="tiff_lzw")
    im.convert("CMYK").save(out("tiff_cmyk_lzw_263x199.tif"), compression="tiff_lzw")
    second = Image.fromarray(synthetic_rgb(w, h, _seed_for("tiff page 2")), "RGB")
    im.save(out("tiff_multipage_lzw_263x199.tif"), save_all=True, append_images=[second],
            compression="tiff_lzw")
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src.png")
        im.save(src)
        for name, opts in (
                ("tiff_im_rgb16_lzw_263x199.tif", ["-depth", "16", "-compress", "lzw"]),
                ("tiff_im_rgb16_bigendian_263x199.tif", ["-depth", "16", "-define", "tiff:endian=msb"]),
                ("tiff_im_tiled64_zip_263x199.tif", ["-compress", "zip", "-define", "tiff:tile-geometry=64x64"]),
                ("tiff_im_jpeg_ycbcr_263x199.tif", ["-compress", "jpeg", "-quality", "85"]),
                ("tiff_im_palette_lzw_263x199.tif", ["-colors", "12", "-compress", "lzw"]),
                ("tiff_im_bilevel_fax_263x199.tif", ["-monochrome", "-compress", "fax"]),
                ("tiff_im_planar_263x199.tif", ["-interlace", "plane"]),
                ("tiff_im_planar16_tiled_lzw_263x199.tif",
                 ["-depth", "16", "-interlace", "plane", "-define", "tiff:tile-geometry=48x32", "-compress", "lzw"]),
                ("tiff_im_rgba_associated_263x199.tif",
                 ["-alpha", "set", "-channel", "A", "-evaluate", "set", "60%", "+channel",
                  "-define", "tiff:alpha=associated"]),
                ("tiff_im_gray16_bigendian_263x199.tif",
                 ["-colorspace", "gray", "-depth", "16", "-define", "tiff:endian=msb"]),
                ("tiff_im_gray_miniswhite_263x199.tif",
                 ["-colorspace", "gray", "-depth", "8", "-define", "tiff:photometric=min-is-white"]),
                ("tiff_im_gray4_263x199.tif", ["-colorspace", "gray", "-depth", "4"])):
            _run([CONVERT, src] + opts + [out(name)])


def _heif_variants(outdir, written):
    """HEIC (x265) and AVIF (aom) from heif-enc; 10-bit from a 16-bit PNG."""
    def out(name):
        written.append((name, True))
        return os.path.join(outdir, name)
    w, h = 301, 227
    rgb = synthetic_rgb(w, h, _seed_for("heif"))
    rs = np.random.RandomState(_seed_for("heif 16"))
    rgb16 = synthetic_rgb(w, h, _seed_for("heif 16")).astype(np.uint16) * 257
    rgb16 ^= rs.randint(0, 256, size=rgb16.shape).astype(np.uint16)
    with tempfile.TemporaryDirectory() as tmp:
        src, src_rgba, src16 = (os.path.join(tmp, n) for n in ("src.png", "rgba.png", "src16.png"))
        Image.fromarray(rgb, "RGB").save(src)
        Image.fromarray(np.dstack([rgb, _alpha_ramp(w, h, _seed_for("heif alpha"))]), "RGBA").save(src_rgba)
        _write_png_raw(src16, rgb16, colour_type=2, bit_depth=16)
        _run([HEIF_ENC, "-q", "70", src, "-o", out("heic_q70_301x227.heic")])
        _run([HEIF_ENC, "-q", "70", src_rgba, "-o", out("heic_alpha_q70_301x227.heic")])
        _run([HEIF_ENC, "-L", src, "-o", out("heic_lossless_301x227.heic")])
        _run([HEIF_ENC, "-b", "10", "-q", "80", src16, "-o", out("heic_10bit_q80_301x227.heic")])
        _run([HEIF_ENC, "-A", "-q", "60", src, "-o", out("avif_q60_301x227.avif")])
        _run([HEIF_ENC, "-A", "-q", "60", src_rgba, "-o", out("avif_alpha_q60_301x227.avif")])


def _is_heif(p):
    with open(p, "rb") as f:
        head = f.read(12)
    return len(head) == 12 and head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS
def _bmp_pnm_variants(outdir, written, include_invalid):
    """One BMP and PNM file per decode path of tests/bmp_pnm_cases.py
    (bmp_pnm_cases.PARITY: RLE8/RLE4, OS/2 v1/v2, v3-v5, every bit depth and
    bitfield layout, top-down, odd palettes; P1-P6 at every maxval kind), and
    a few Pillow refuses."""
    import bmp_pnm_cases  # tests/, next to this file
    for name, data, expected in bmp_pnm_cases.cases():
        if name not in bmp_pnm_cases.PARITY or (expected != "ok" and not include_invalid):
            continue
        fname = "bmppnm_" + name
        with open(os.path.join(outdir, fname), "wb") as f:
            f.write(data)
        written.append((fname, expected == "ok"))


# PNM decodes exactly too (Pillow reports it as "PPM" whatever the type).
LOSSLESS_FORMATS = LOSSLESS_FORMATS + ("PPM",)


def _describe(p, expected_valid):
    """Re-open a written file the way the reference does and record what PIL sees."""
    entry = {"file": os.path.basename(p), "path": p, "format": None, "mode": None,
             "size": None, "valid": False, "expected_valid": expected_valid}
    try:
        with warnings.catch_warnings():
            # PIL warns that P images with tRNS bytes "should be converted to
            # RGBA"; the reference converts to RGB anyway, so it is noise here.
            warnings.simplefilter("ignore", UserWarning)
            if _is_heif(p):
                # Pillow cannot open HEIF: describe libheif's decode (the reference's).
                with tempfile.TemporaryDirectory() as tmp:
                    png = os.path.join(tmp, "primary.png")
                    proc = subprocess.run(["heif-convert", p, png], stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT)
                    if proc.returncode != 0:
                        raise OSError("heif-convert failed: %s" % proc.stdout.decode(errors="replace")[-200:])
                    with Image.open(png) as im:
                        entry.update(format="HEIF", mode=im.mode, size=im.size)
                        im.convert("RGB")
            else:
                with Image.open(p) as im:
                    entry.update(format=im.format, mode=im.mode, size=im.size)
                    im.convert("RGB")  # forces a full decode, like the reference
        entry["valid"] = True
    except Exception as e:  # PIL raises many exception types for bad files
        entry["error"] = "%s: %s" % (type(e).__name__, e)
    return entry


def print_manifest(manifest, out=sys.stdout):
    print("%-52s %-6s %-5s %-11s %s" % ("file", "format", "mode", "size", "status"), file=out)
    for e in manifest:
        size = "%dx%d" % tuple(e["size"]) if e["size"] else "-"
        status = "ok" if e["valid"] else "rejected (%s)" % e.get("error", "")
        print("%-52s %-6s %-5s %-11s %s" % (e["file"], e["format"] or "-", e["mode"] or "-",
                                            size, status), file=out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", help="directory to write the images into (created if missing; "
                                   "use a temporary directory, never the repository)")
    ap.add_argument("--shared-dir", default=DEFAULT_SHARED_DIR,
                    help="directory with the shared photos to crop/rescale "
                         "(default: %(default)s; skipped if missing)")
    ap.add_argument("--no-invalid", action="store_true",
                    help="do not write the deliberately broken files")
    args = ap.parse_args(argv)

    manifest = generate(args.outdir, args.shared_dir, include_invalid=not args.no_invalid)
    print_manifest(manifest)
    # A file whose validity differs from what we intended means PIL changed
    # behaviour; say so loudly rather than silently testing something else.
    bad = [e for e in manifest if e["valid"] != e["expected_valid"]]
    for e in bad:
        print("UNEXPECTED: %s valid=%s" % (e["file"], e["valid"]), file=sys.stderr)
    print("%d files (%d valid, %d invalid) in %s" % (
        len(manifest), sum(e["valid"] for e in manifest),
        sum(not e["valid"] for e in manifest), args.outdir))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
