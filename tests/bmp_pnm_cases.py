#!/usr/bin/env python3
"""BMP and PNM test files, every variant Pillow 9.4 opens plus ones it refuses,
with Pillow's own decode as the expected pixels.

    /usr/bin/python3 tests/bmp_pnm_cases.py OUTDIR

writes OUTDIR/<case>.{bmp,pnm} and, for each file Pillow opens,
OUTDIR/<case>.rgb (Image.open(f).convert('RGB'), raw RGB bytes), and
OUTDIR/cases.txt, one line per case:

    <file> <width> <height> <expected>      expected: ok | corrupt | unsupported | too_large
    truncate <file> <verdicts>              verdicts[i] = '1' if Pillow opens the first i bytes

tests/test_decode_bmp_pnm.c decodes each case and compares. Files come from
three sources: Pillow's writers, ImageMagick (convert) and netpbm
(pnmtoplainpnm, pamdepth), and byte-by-byte writers here for what no tool
writes (RLE4, OS/2 headers, bitfield masks, top-down, deltas, odd palettes,
quirks). Every case says whether Pillow must accept it; the generator fails
if Pillow disagrees, so the expectations cannot silently drift.

Importable: cases() -> [(file, bytes, expected)]; make_test_images.py and
fuzz/make_seeds.py reuse it.
"""

import io
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

CONVERT = "convert"  # ImageMagick (Debian imagemagick)


def content(w, h, seed):
    """Deterministic RGB content: gradients, a checkerboard band, noise."""
    rs = np.random.RandomState(seed)
    x = np.arange(w)[None, :]
    y = np.arange(h)[:, None]
    r = (x * 255 // max(w - 1, 1)) + 0 * y
    g = (y * 255 // max(h - 1, 1)) + 0 * x
    b = ((x * 7 + y * 13) % 256)
    img = np.stack([r, g, b], axis=-1).astype(np.int64)
    img[: max(1, h // 6), :, 1] = ((x + y[: max(1, h // 6)]) & 1) * 255
    img = np.clip(img + rs.randint(-20, 21, size=img.shape), 0, 255)
    return img.astype(np.uint8)


def rgb_image(w, h, seed):
    return Image.fromarray(content(w, h, seed), "RGB")


def indexed(w, h, seed, ncolours):
    """Index array (h, w) using every entry of an ncolours palette."""
    c = content(w, h, seed).astype(np.int64)
    return ((c[..., 0] >> 2) + (c[..., 1] >> 3) * 3 + (c[..., 2] >> 4) * 5) % ncolours


def random_palette(n, seed):
    return np.random.RandomState(seed).randint(0, 256, size=(n, 3)).astype(np.uint8)


# ---- BMP writer ---------------------------------------------------------------

def pack_bits(indexes, bits):
    """One row of palette indexes packed MSB-first at 1/4/8 bits."""
    if bits == 8:
        return bytes(int(v) for v in indexes)
    per = 8 // bits
    out = bytearray()
    for i in range(0, len(indexes), per):
        byte = 0
        for j in range(per):
            v = int(indexes[i + j]) if i + j < len(indexes) else 0
            byte |= v << (8 - bits * (j + 1))
        out.append(byte)
    return bytes(out)


def bmp(w, h, bits, rows=None, *, pixels=None, palette=None, compression=0, header=40, top_down=False,
        masks=None, colors=None, offset=None, pad_last=True, entry=None):
    """A BMP file. rows: packed rows top to bottom (padded and ordered here);
    pixels: the pixel data verbatim (RLE). palette: (n, 3) RGB. masks: bitfield
    masks (3 after a v3 header, 4 inside v4/v5/OS2-v2 ones)."""
    entry = entry or (3 if header == 12 else 4)
    if pixels is None:
        stride = (w * bits + 31) // 32 * 4
        ordered = rows if top_down else rows[::-1]
        padded = [r + b"\0" * (stride - len(r)) for r in ordered]
        if not pad_last:
            padded[-1] = ordered[-1]
        pixels = b"".join(padded)
    pal = b""
    if palette is not None:
        pal = b"".join(bytes([int(c[2]), int(c[1]), int(c[0])]) + b"\0" * (entry - 3) for c in palette)
    if header == 12:
        info = struct.pack("<IHHHH", 12, w, h, 1, bits)
    else:
        ncolors = len(palette) if colors is None and palette is not None else (colors or 0)
        info = struct.pack("<IiiHHIIiiII", header, w, -h if top_down else h, 1, bits, compression,
                           len(pixels), 2835, 2835, ncolors, 0)
        if header >= 56:
            m = list(masks or []) + [0] * (4 - len(masks or []))
            info += struct.pack("<IIII", *m[:4])
        info += b"\0" * (header - len(info))
    extra = struct.pack("<" + "I" * len(masks), *masks) if masks and header == 40 else b""
    data_at = 14 + len(info) + len(extra) + len(pal) if offset is None else offset
    total = 14 + len(info) + len(extra) + len(pal) + len(pixels)
    return b"BM" + struct.pack("<IHHI", total, 0, 0, data_at) + info + extra + pal + pixels


def rle8_encode(idx, absolute_every=3):
    """RLE8 rows bottom-up: runs as encoded pairs, some stretches as absolute
    runs, EOL after each row, EOB at the end."""
    out = bytearray()
    for row in idx[::-1]:
        row = [int(v) for v in row]
        x, k = 0, 0
        while x < len(row):
            run = 1
            while x + run < len(row) and row[x + run] == row[x] and run < 255:
                run += 1
            k += 1
            if run == 1 and k % absolute_every == 0 and len(row) - x >= 3:
                n = min(len(row) - x, 5)
                out += bytes([0, n]) + bytes(row[x:x + n]) + (b"\0" if n % 2 else b"")
                x += n
            else:
                out += bytes([run, row[x]])
                x += run
        out += b"\0\0"
    return bytes(out + b"\0\1")


def rle4_encode(idx):
    """RLE4 rows bottom-up: encoded pairs of alternating nibbles, absolute runs
    of an even count (Pillow 9.4 reads count//2 bytes), EOL, EOB."""
    out = bytearray()
    for row in idx[::-1]:
        row = [int(v) for v in row]
        x = 0
        while x < len(row):
            if len(row) - x >= 6 and x % 3 == 0:
                n = 4
                nib = row[x:x + n]
                out += bytes([0, n, nib[0] << 4 | nib[1], nib[2] << 4 | nib[3]])
                x += n
            else:
                a = row[x]
                b = row[x + 1] if x + 1 < len(row) else 0
                n = 2 if x + 1 < len(row) else 1
                out += bytes([n, a << 4 | b])
                x += n
        out += b"\0\0"
    return bytes(out + b"\0\1")


def bmp_cases(tmp):
    W, H = 37, 23  # odd width: every bit depth has row padding
    c = []
    add = lambda name, data, expected="ok": c.append((name + ".bmp", data, expected))  # noqa: E731

    base = content(W, H, 1)

    # Pillow's own writer.
    for mode in ("RGB", "P", "L", "1", "RGBA"):
        buf = io.BytesIO()
        im = rgb_image(W, H, 2)
        im = im.convert(mode) if mode != "RGBA" else Image.fromarray(
            np.dstack([content(W, H, 2), content(W, H, 3)[..., 0]]), "RGBA")
        im.save(buf, "BMP")
        add("pillow_%s" % mode.lower(), buf.getvalue())

    # ImageMagick's writer: v3 and v5 headers, RLE8, OS/2, 16-bit subtypes.
    src = os.path.join(tmp, "src.png")
    Image.fromarray(base, "RGB").save(src)
    pal_src = os.path.join(tmp, "pal.png")
    Image.fromarray(base, "RGB").quantize(200).save(pal_src)
    few_src = os.path.join(tmp, "few.png")
    Image.fromarray(base, "RGB").quantize(12).save(few_src)
    rgba_src = os.path.join(tmp, "rgba.png")
    Image.fromarray(np.dstack([base, content(W, H, 9)[..., 2]]), "RGBA").save(rgba_src)
    for name, args in [
        ("im_bmp3_rgb24", [src, "BMP3:%s"]),
        ("im_bmp3_palette8", [pal_src, "-type", "palette", "BMP3:%s"]),
        ("im_bmp3_palette4", [few_src, "-type", "palette", "-colors", "12", "BMP3:%s"]),
        ("im_bmp3_bilevel", [src, "-monochrome", "BMP3:%s"]),
        ("im_bmp3_rle8", [pal_src, "-type", "palette", "-compress", "RLE", "BMP3:%s"]),
        ("im_bmp2_os2", [pal_src, "-type", "palette", "BMP2:%s"]),
        ("im_bmp4_rgba", [rgba_src, "BMP:%s"]),
        ("im_rgb565", [src, "-define", "bmp:subtype=RGB565", "BMP:%s"]),
        ("im_rgb555", [src, "-define", "bmp:subtype=RGB555", "BMP:%s"]),
        ("im_argb1555", [rgba_src, "-define", "bmp:subtype=ARGB1555", "BMP:%s"]),
    ]:
        out = os.path.join(tmp, name + ".bmp")
        subprocess.run([CONVERT] + args[:-1] + [args[-1] % out], check=True)
        with open(out, "rb") as f:
            add(name, f.read())
    out = os.path.join(tmp, "argb4444.bmp")
    subprocess.run([CONVERT, rgba_src, "-define", "bmp:subtype=ARGB4444", "BMP:" + out], check=True)
    with open(out, "rb") as f:
        add("im_argb4444", f.read(), "unsupported")  # 4-4-4-4 masks: Pillow refuses them

    # netpbm's writer (ppmtobmp), OS/2 v1 and Windows.
    ppm = os.path.join(tmp, "src.ppm")
    Image.fromarray(base, "RGB").save(ppm)
    for name, flag in (("netpbm_os2", "-os2"), ("netpbm_windows", "-windows")):
        add(name, subprocess.run(["ppmtobmp", flag, ppm], check=True, stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL).stdout)

    # Byte by byte: every bit depth and header, top-down, bitfields.
    pal256 = random_palette(256, 4)
    for bits, n in ((1, 2), (4, 16), (8, 256)):
        idx = indexed(W, H, 10 + bits, n)
        rows = [pack_bits(r, bits) for r in idx]
        pal = pal256[:n]
        add("pal%d_v3" % bits, bmp(W, H, bits, rows, palette=pal))
        add("pal%d_topdown" % bits, bmp(W, H, bits, rows, palette=pal, top_down=True))
        add("pal%d_os2v1" % bits, bmp(W, H, bits, rows, palette=pal, header=12))
        add("pal%d_os2v2" % bits, bmp(W, H, bits, rows, palette=pal, header=64))
        add("pal%d_v4" % bits, bmp(W, H, bits, rows, palette=pal, header=108))
        add("pal%d_v5" % bits, bmp(W, H, bits, rows, palette=pal, header=124))
    idx = indexed(W, H, 30, 256)
    rows8 = [pack_bits(r, 8) for r in idx]
    add("pal8_short_palette", bmp(W, H, 8, rows8, palette=pal256[:40]))  # indexes past it: gray i,i,i
    add("pal8_gray_ramp", bmp(W, H, 8, rows8, palette=[(i, i, i) for i in range(256)]))  # mode L
    add("pal8_gray_ramp_short", bmp(W, H, 8, rows8, palette=[(i, i, i) for i in range(100)]))
    add("pal8_no_last_padding", bmp(W, H, 8, rows8, palette=pal256, pad_last=False))
    add("pal8_offset_zero", bmp(W, H, 8, rows8, palette=pal256, offset=0))
    # bfOffBits pointing at the palette: Pillow skips 4 bytes per colour.
    add("pal8_offset_at_palette", bmp(W, H, 8, rows8, palette=pal256, offset=14 + 40))
    add("pal8_colors_field_16", bmp(W, H, 8, [pack_bits(r, 8) for r in indexed(W, H, 31, 16)],
                                    palette=pal256[:16], colors=16))
    idx2 = indexed(W, H, 32, 2)
    add("pal1_black_white", bmp(W, H, 1, [pack_bits(r, 1) for r in idx2], palette=[(0, 0, 0), (255, 255, 255)]))
    add("pal1_white_black", bmp(W, H, 1, [pack_bits(r, 1) for r in idx2], palette=[(255, 255, 255), (0, 0, 0)]))
    # Quirks: an 8-bit file with a black/white palette is read as 1 bit a pixel;
    # a 4-bit file with the 16-entry ramp is read as 8-bit gray (width 3 fits the stride).
    add("quirk_pal8_black_white", bmp(W, H, 8, [pack_bits(r, 8) for r in idx2], palette=[(0, 0, 0), (255, 255, 255)]))
    idx4 = indexed(3, H, 33, 16)
    add("quirk_pal4_ramp_narrow", bmp(3, H, 4, [pack_bits(r, 4) for r in idx4], palette=[(i, i, i) for i in range(16)]))
    add("quirk_pal4_ramp_wide", bmp(W, H, 4, [pack_bits(r, 4) for r in indexed(W, H, 33, 16)],
                                    palette=[(i, i, i) for i in range(16)]), "corrupt")

    # 16-bit: every value of 5-5-5 and 5-6-5 once (256x256), default and bitfields.
    vals = np.arange(65536, dtype="<u2").reshape(256, 256)
    rows16 = [r.tobytes() for r in vals]
    add("rgb16_555_all_values", bmp(256, 256, 16, rows16))
    add("rgb16_565_all_values_v3", bmp(256, 256, 16, rows16, compression=3, masks=[0xF800, 0x7E0, 0x1F]))
    add("rgb16_555_bitfields_v3", bmp(256, 256, 16, rows16, compression=3, masks=[0x7C00, 0x3E0, 0x1F]))
    add("rgb16_565_v5_topdown", bmp(256, 256, 16, rows16, compression=3, masks=[0xF800, 0x7E0, 0x1F],
                                    header=124, top_down=True))
    add("rgb16_444_bitfields", bmp(256, 256, 16, rows16, compression=3, masks=[0xF00, 0xF0, 0xF]), "unsupported")

    c24 = content(W, H, 40)
    rows24 = [bytes(r[:, ::-1].tobytes()) for r in c24]
    add("rgb24_v3", bmp(W, H, 24, rows24))
    add("rgb24_topdown", bmp(W, H, 24, rows24, top_down=True))
    add("rgb24_os2v1", bmp(W, H, 24, rows24, header=12))
    add("rgb24_v4", bmp(W, H, 24, rows24, header=108))
    add("rgb24_bitfields", bmp(W, H, 24, rows24, compression=3, masks=[0xFF0000, 0xFF00, 0xFF]))
    alpha = content(W, H, 41)[..., 0]
    bgra = np.dstack([c24[..., ::-1], alpha])
    for name, order, masks, header in [
        ("rgb32_raw", bgra, None, 40),
        ("rgb32_bgrx_v3", bgra, [0xFF0000, 0xFF00, 0xFF], 40),
        ("rgb32_xbgr_v3", np.dstack([alpha, c24[..., ::-1]]), [0xFF000000, 0xFF0000, 0xFF00], 40),
        ("rgb32_abgr_v5", np.dstack([alpha, c24[..., ::-1]]), [0xFF000000, 0xFF0000, 0xFF00, 0xFF], 124),
        ("rgb32_rgba_v5", np.dstack([c24, alpha]), [0xFF, 0xFF00, 0xFF0000, 0xFF000000], 124),
        ("rgb32_bgra_v4", bgra, [0xFF0000, 0xFF00, 0xFF, 0xFF000000], 108),
        ("rgb32_zero_masks_v5", bgra, [0, 0, 0, 0], 124),
    ]:
        rows32 = [r.astype(np.uint8).tobytes() for r in order]
        add(name, bmp(W, H, 32, rows32, compression=3 if masks is not None else 0, masks=masks, header=header))
    add("rgb32_odd_masks", bmp(W, H, 32, [r.tobytes() for r in bgra], compression=3,
                               masks=[0xFFC00000, 0x3FF000, 0xFFC, 0], header=124), "unsupported")

    # RLE8 and RLE4, encoded here (ImageMagick writes no RLE4).
    idx = indexed(W, H, 50, 256)
    add("rle8_v3", bmp(W, H, 8, pixels=rle8_encode(idx), palette=pal256, compression=1))
    add("rle8_topdown", bmp(W, H, 8, pixels=rle8_encode(idx[::-1]), palette=pal256, compression=1, top_down=True))
    add("rle8_gray_ramp", bmp(W, H, 8, pixels=rle8_encode(idx), palette=[(i, i, i) for i in range(256)],
                              compression=1))
    idx16 = indexed(W, H, 51, 16)
    add("rle4_v3", bmp(W, H, 4, pixels=rle4_encode(idx16), palette=pal256[:16], compression=2))
    add("rle4_bits8", bmp(W, H, 8, pixels=rle4_encode(idx16), palette=pal256[:16], compression=2))
    # Hand-made streams: a run longer than the row (clipped), absolute runs
    # flowing into the next row, an odd RLE4 absolute count, deltas (9.4 reads
    # four bytes and uses the last two), EOL on a row boundary, an odd file
    # offset (alignment is of the file position).
    p16 = pal256[:16]
    add("rle8_run_past_row", bmp(4, 3, 8, pixels=bytes([9, 5, 0, 0, 2, 7, 200, 8, 0, 0, 4, 1, 0, 1]),
                                 palette=pal256, compression=1))
    add("rle8_absolute_wraps", bmp(4, 3, 8, pixels=bytes([0, 6, 1, 2, 3, 4, 5, 6, 3, 9, 0, 0, 4, 7, 0, 1]),
                                   palette=pal256, compression=1))
    add("rle8_delta", bmp(6, 4, 8, pixels=bytes([2, 3, 0, 2, 9, 9, 2, 1, 3, 4, 0, 0, 6, 5, 0, 0, 6, 8, 0, 1]),
                          palette=pal256, compression=1))
    # Without an end of line, the column counter stays at the row's end and
    # the next encoded run is clipped to nothing: Pillow then runs out of data.
    add("rle8_run_after_full_row", bmp(6, 4, 8, pixels=bytes([6, 3, 6, 5, 6, 6, 6, 8, 0, 1]),
                                       palette=pal256, compression=1), "corrupt")
    add("rle8_no_eol", bmp(4, 2, 8, pixels=bytes([4, 3, 4, 5, 0, 0, 4, 6]), palette=pal256, compression=1))
    add("rle4_odd_absolute", bmp(6, 2, 4, pixels=bytes([0, 5, 0x12, 0x34, 0x50, 0, 3, 0xAB, 0, 0, 6, 0xCD, 0, 1]),
                                 palette=p16, compression=2))
    add("rle4_run_past_row", bmp(5, 2, 4, pixels=bytes([9, 0x1F, 0, 0, 5, 0x23, 0, 1]), palette=p16, compression=2))
    odd = bmp(4, 2, 8, pixels=b"\0" + bytes([0, 3, 1, 2, 3, 1, 4, 0, 0, 4, 5, 0, 1]), palette=pal256,
              compression=1)
    odd = odd[:10] + struct.pack("<I", struct.unpack("<I", odd[10:14])[0] + 1) + odd[14:]
    add("rle8_odd_offset", odd)
    add("rle8_index_past_palette", bmp(4, 1, 8, pixels=bytes([2, 1, 2, 250, 0, 1]), palette=pal256[:3],
                                       compression=1))
    # Pillow 9.4 needs every pixel: an early end of bitmap, or data ending, is an error.
    add("rle8_early_eob", bmp(4, 3, 8, pixels=bytes([4, 1, 0, 0, 0, 1]), palette=pal256, compression=1), "corrupt")
    add("rle8_truncated", bmp(W, H, 8, pixels=rle8_encode(idx)[:200], palette=pal256, compression=1), "corrupt")
    add("rle8_delta_truncated", bmp(4, 2, 8, pixels=bytes([4, 1, 0, 2, 0, 0, 1]), palette=pal256, compression=1),
        "corrupt")
    add("rle8_huge_run_image", bmp(3, 2, 8, pixels=bytes([255, 1] * 8), palette=pal256, compression=1), "corrupt")
    add("rle24_refused", bmp(2, 2, 24, pixels=bytes([2, 1, 0, 0, 2, 1, 0, 1]), compression=1), "unsupported")
    add("rle8_black_white_refused", bmp(2, 2, 8, pixels=bytes([2, 1, 0, 0, 2, 0, 0, 1]),
                                        palette=[(0, 0, 0), (255, 255, 255)], compression=1), "unsupported")

    # Refused headers and layouts; truncated and oversized files.
    add("jpeg_inside", bmp(W, H, 24, pixels=b"\xff\xd8\xff\xe0" + b"\0" * 60, compression=4), "unsupported")
    add("png_inside", bmp(W, H, 24, pixels=b"\x89PNG\r\n\x1a\n" + b"\0" * 60, compression=5), "unsupported")
    add("bits2", bmp(W, H, 2, [b"\0" * ((W * 2 + 7) // 8)] * H, palette=pal256[:4]), "unsupported")
    full = bmp(W, H, 24, rows24)
    add("header_size_52", full[:14] + struct.pack("<I", 52) + full[18:], "unsupported")
    # Values no BMP writer uses: not a BMP at all (400), unlike the variants above (415).
    add("header_size_garbage", full[:14] + struct.pack("<I", 0xAB3C11EC) + full[18:], "corrupt")
    add("bit_depth_garbage", full[:28] + struct.pack("<H", 47) + full[30:], "corrupt")
    add("compression_garbage", full[:30] + struct.pack("<I", 0x1234) + full[34:], "corrupt")
    add("rgb24_truncated", full[: len(full) - 40], "corrupt")
    add("header_truncated", full[:30], "corrupt")
    add("offset_past_end", full[:10] + struct.pack("<I", 1 << 30) + full[14:], "corrupt")
    add("palette_too_big", bmp(2, 1, 8, [bytes([1, 2])], palette=random_palette(300, 5)), "corrupt")
    huge = bmp(1, 1, 24, [b"\1\2\3"])
    add("huge_dimensions", huge[:18] + struct.pack("<ii", 0x7FFFFFFF, 0x7FFFFFFF) + huge[26:], "too_large")
    add("huge_width_rle", bmp(1, 1, 8, pixels=bytes([1, 1, 0, 1]), palette=pal256, compression=1)[:18]
        + struct.pack("<ii", 3000000, 3000) + bmp(1, 1, 8, pixels=bytes([1, 1, 0, 1]), palette=pal256,
                                                   compression=1)[26:], "too_large")
    add("width_past_int", huge[:18] + struct.pack("<I", 0x80000000) + huge[22:], "too_large")
    add("zero_height", huge[:22] + struct.pack("<i", 0) + huge[26:], "corrupt")
    return c


# ---- PNM ------------------------------------------------------------------------

def pnm_cases(tmp):
    W, H = 41, 19
    c = []
    add = lambda name, data, expected="ok": c.append((name + ".pnm", data, expected))  # noqa: E731
    base = content(W, H, 60)
    im = Image.fromarray(base, "RGB")

    def pil(img):
        buf = io.BytesIO()
        img.save(buf, "PPM")
        return buf.getvalue()

    add("pillow_p6", pil(im))
    add("pillow_p5", pil(im.convert("L")))
    add("pillow_p4", pil(im.convert("1")))
    g16 = (content(W, H, 61)[..., 0].astype(np.int32) * 257) ^ np.random.RandomState(6).randint(0, 256, (H, W))
    g16[:5] = np.random.RandomState(7).randint(0, 600, (5, W))  # around the 255 clip
    add("pillow_p5_16bit", pil(Image.fromarray(g16.astype(np.int32), "I")))

    ppm = os.path.join(tmp, "src.ppm")
    im.save(ppm)

    def netpbm(*cmds):
        data = open(ppm, "rb").read()
        for cmd in cmds:
            data = subprocess.run(list(cmd), input=data, check=True, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL).stdout
        return data

    add("netpbm_p3", netpbm(["pnmtoplainpnm"]))
    add("netpbm_p2", netpbm(["ppmtopgm"], ["pnmtoplainpnm"]))
    add("netpbm_p1", netpbm(["ppmtopgm"], ["pgmtopbm"], ["pnmtoplainpnm"]))
    add("netpbm_p6_maxval100", netpbm(["pamdepth", "100"]))
    add("netpbm_p6_16bit", netpbm(["pamdepth", "65535"]))
    add("netpbm_p5_maxval1000", netpbm(["ppmtopgm"], ["pamdepth", "1000"]))
    add("netpbm_p3_16bit", netpbm(["pamdepth", "65535"], ["pnmtoplainpnm"]))
    add("netpbm_p2_maxval7", netpbm(["ppmtopgm"], ["pamdepth", "7"], ["pnmtoplainpnm"]))
    add("netpbm_p2_16bit", netpbm(["ppmtopgm"], ["pamdepth", "65535"], ["pnmtoplainpnm"]))

    out = os.path.join(tmp, "im.pgm")
    subprocess.run([CONVERT, ppm, "-colorspace", "gray", "-depth", "16", out], check=True)
    add("im_p5_16bit", open(out, "rb").read())
    out = os.path.join(tmp, "im.ppm")
    subprocess.run([CONVERT, ppm, "-compress", "none", out], check=True)
    add("im_p3", open(out, "rb").read())

    # Byte by byte: header comments and whitespace, scaling, Pillow's quirks.
    rgb = base.tobytes()
    gray = base[..., 1].tobytes()
    add("p6_header_comments", b"P6\n# made by hand\n%d # width\n%d\n#maxval next\n255\n" % (W, H) + rgb)
    add("p6_tabs_cr", b"P6\t%d\r%d\x0b255\x0c" % (W, H) + rgb)
    add("p6_comment_inside_token", b"P6 4#c\n1 %d 255\n" % H + rgb)  # "4#c\n1" is 41 for Pillow
    add("p5_maxval_200", b"P5 %d %d 200\n" % (W, H) + bytes(min(v, 230) for v in gray))  # > maxval clips
    add("p5_maxval_1", b"P5 %d %d 1\n" % (W, H) + bytes(v & 1 for v in gray))
    add("p6_maxval_3_halves", b"P6 2 2 3\n" + bytes([0, 1, 2, 3, 1, 2, 3, 0, 2, 3, 0, 1]))
    add("p5_maxval_65535_be", b"P5 4 1 65535\n" + bytes([0, 7, 0, 255, 1, 0, 255, 255]))
    add("p5_maxval_300", b"P5 4 1 300\n" + bytes([0, 1, 0, 2, 0, 255, 1, 44]))
    add("p5_extra_data", b"P5 2 1 255\n" + bytes([9, 200, 1, 2, 3]))
    add("p2_signs_underscores", b"P2 4 1 255\n+5 1_0 007 -1\n")
    add("p2_comment_joins_tokens", b"P2 3 1 255\n1#x\n2 3 4\n")
    add("p2_no_final_newline_short", b"P2 3 2 255\n1 2 7")  # last token repeats to the end
    add("p3_repeat_fills_big", b"P3 500 400 255\n1 2 3 4")
    add("p3_repeat_after_comment", b"P3 4 4 255\n9 8 7 # open comment\n6 5")
    add("p3_maxval_1000_mode_rgb", b"P3 2 1 1000\n0 500 1000 999 1 250\n")
    add("p2_maxval_1000_mode_i", b"P2 3 1 1000\n0 1 1000\n")
    add("p1_no_spaces", b"P1\n4 2\n0101\n1 0 1 0")
    add("p1_comment", b"P1 3 1 # c\n1 # x\n0 1\n")
    # Plain data over several of Pillow's 1 MiB read blocks, with comments
    # and tokens straddling the block boundaries.
    big_w, big_h = 420, 420
    vals = np.random.RandomState(8).randint(0, 256, size=big_w * big_h * 3)
    text = bytearray(b"P3 %d %d 255\n" % (big_w, big_h))
    for i, v in enumerate(vals):
        text += b"%d" % v
        text += b"\n" if i % 17 == 0 else b" "
        if i % 5000 == 4999:
            text += b"# a comment in the data\n"
    add("p3_multi_block", bytes(text))

    add("p5_truncated", b"P5 %d %d 255\n" % (W, H) + gray[:-1], "corrupt")
    add("p6_16bit_truncated", b"P6 2 2 65535\n" + bytes(23), "corrupt")
    add("p4_truncated", b"P4 9 2\n" + bytes(3), "corrupt")
    add("p2_too_few", b"P2 3 2 255\n1 2 3\n", "corrupt")
    add("p3_over_maxval", b"P3 1 1 100 200 0 50\n", "corrupt")
    add("p1_bad_char", b"P1 2 1\n0 2\n", "corrupt")
    add("maxval_zero", b"P5 1 1 0\n\0", "corrupt")
    add("maxval_65536", b"P5 1 1 65536\n\0\0", "corrupt")
    add("token_too_long", b"P5 00000000001 1 255\n\0", "corrupt")
    add("p2_negative_mode_i", b"P2 2 1 1000\n5 -4\n", "corrupt")
    add("header_ends", b"P6 12", "corrupt")
    add("zero_width", b"P5 0 1 255\n", "corrupt")
    add("huge_dimensions", b"P6 2000000000 2000000000 255\n\0\0\0", "too_large")
    add("width_past_int", b"P5 9999999999 1 255\n\0", "too_large")
    add("p7_pam", b"P7\nWIDTH 1\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nTUPLTYPE GRAYSCALE\nENDHDR\n\0", "unsupported")
    # Pillow's own extension, not PNM: Pillow opens it, inferd refuses it.
    add("pillow_cmyk_extension", b"P0CMYK 1 1 255\n\0\0\0\0", "unsupported")
    return c


def cases():
    with tempfile.TemporaryDirectory() as tmp:
        return bmp_cases(tmp) + pnm_cases(tmp)


# Files whose every truncation is checked against Pillow (kept small: one
# Pillow open per length).
TRUNCATE = ["pal4_v3.bmp", "rgb32_bgrx_v3.bmp", "rle8_v3.bmp", "rle4_v3.bmp", "im_bmp2_os2.bmp",
            "rgb32_abgr_v5.bmp", "pillow_p4.pnm", "netpbm_p2.pnm", "p2_no_final_newline_short.pnm",
            "pillow_p5_16bit.pnm", "netpbm_p6_maxval100.pnm", "p6_header_comments.pnm"]


# The end-to-end parity set (make_test_images.py): one file per decode path
# (each header kind, bit depth, bitfield layout, RLE kind, row order, quirk;
# each PNM type and maxval kind) and a few refused ones. Every case above is
# checked pixel by pixel by test_decode_bmp_pnm; parity runs the model on
# each file twice, so it takes this subset.
PARITY = [
    "pillow_rgb.bmp", "pillow_p.bmp", "pillow_1.bmp", "pillow_rgba.bmp", "im_bmp3_rle8.bmp", "im_bmp2_os2.bmp",
    "im_bmp4_rgba.bmp", "im_rgb565.bmp", "im_argb1555.bmp", "netpbm_os2.bmp", "pal1_v3.bmp", "pal4_topdown.bmp",
    "pal8_os2v1.bmp", "pal8_os2v2.bmp", "pal4_v5.bmp", "pal8_short_palette.bmp", "pal8_gray_ramp.bmp",
    "quirk_pal8_black_white.bmp", "rgb16_555_all_values.bmp", "rgb16_565_v5_topdown.bmp", "rgb24_topdown.bmp",
    "rgb24_bitfields.bmp", "rgb32_xbgr_v3.bmp", "rgb32_abgr_v5.bmp", "rgb32_rgba_v5.bmp", "rgb32_zero_masks_v5.bmp",
    "rle8_topdown.bmp", "rle4_v3.bmp", "rle4_odd_absolute.bmp", "rle8_delta.bmp", "pal8_offset_at_palette.bmp",
    "im_argb4444.bmp", "rle8_early_eob.bmp", "jpeg_inside.bmp", "rgb24_truncated.bmp", "huge_dimensions.bmp",
    "pillow_p6.pnm", "pillow_p5.pnm", "pillow_p4.pnm", "pillow_p5_16bit.pnm", "netpbm_p1.pnm", "netpbm_p2.pnm",
    "netpbm_p3.pnm", "netpbm_p6_maxval100.pnm", "netpbm_p6_16bit.pnm", "netpbm_p5_maxval1000.pnm",
    "p6_header_comments.pnm", "p2_no_final_newline_short.pnm", "p3_multi_block.pnm",
    "p5_truncated.pnm", "p3_over_maxval.pnm", "huge_dimensions.pnm",
]

# Pillow's private extensions of the PPM plugin (P0CMYK, PyP, PyRGBA,
# PyCMYK "for test purposes only") are not PNM: inferd refuses them.
REFUSED_THOUGH_PILLOW_OPENS = {"pillow_cmyk_extension.pnm"}

# Pillow opens this one from a path (memory-mapped, with rows overlapping)
# but refuses the same bytes from memory, which is how a server gets them;
# the path-based parity test leaves it out.
PILLOW_PATH_DIFFERS = {"quirk_pal4_ramp_wide.bmp"}


def pillow_rgb(data):
    """Pillow's decode of `data`, or None when it refuses the file."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            out = im.convert("RGB")
            return out.size, out.tobytes()
    except Exception:  # Pillow raises many exception types for bad files
        return None


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    outdir = argv[1]
    os.makedirs(outdir, exist_ok=True)
    lines, bad = [], []
    all_cases = cases()
    for name, data, expected in all_cases:
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        got = pillow_rgb(data)
        pillow_ok = expected == "ok" or name in REFUSED_THOUGH_PILLOW_OPENS
        if (got is not None) != pillow_ok:
            bad.append("%s: expected %s, Pillow %s" % (name, expected, "opens it" if got else "refuses it"))
            continue
        if got and expected == "ok":
            (w, h), pixels = got
            with open(os.path.join(outdir, os.path.splitext(name)[0] + ".rgb"), "wb") as f:
                f.write(pixels)
            lines.append("%s %d %d ok" % (name, w, h))
        else:
            lines.append("%s 0 0 %s" % (name, expected))
    by_name = {n: d for n, d, _ in all_cases}
    bad += ["PARITY names no case: %s" % n for n in PARITY if n not in by_name]
    for name in TRUNCATE:
        data = by_name[name]
        verdicts = "".join("1" if pillow_rgb(data[:n]) else "0" for n in range(len(data)))
        lines.append("truncate %s %s" % (name, verdicts))
    with open(os.path.join(outdir, "cases.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    for b in bad:
        print("UNEXPECTED " + b, file=sys.stderr)
    print("%d BMP/PNM cases in %s" % (len(all_cases), outdir))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
