#!/usr/bin/python3
"""Prints the Pillow goldens of test_preprocess.c's test_bicubic_golden:
Image.resize(size, BICUBIC) of three synthetic RGB images (the same formulas
as fill_pattern/fill_checker/fill_step there). Run with /usr/bin/python3
(Pillow 9.4) and paste the output into tests/test_preprocess.c."""
from PIL import Image
def pattern(w,h):
    b=bytearray()
    for y in range(h):
        for x in range(w):
            for c in range(3):
                b.append((x*37+y*91+c*53+(x*y)%7)&0xFF)
    return Image.frombytes('RGB',(w,h),bytes(b))
def checker(w,h):
    b=bytearray()
    for y in range(h):
        for x in range(w):
            for c in range(3):
                b.append(255 if ((x//2+y//3+c)%2) else 0)
    return Image.frombytes('RGB',(w,h),bytes(b))
def step(w,h):
    b=bytearray()
    for y in range(h):
        for x in range(w):
            for c in range(3):
                b.append(255 if (x >= w//2) != (y >= h//2 and c == 1) else (0 if c != 2 else 3))
    return Image.frombytes('RGB',(w,h),bytes(b))
cases=[('step',12,6,30,13),('pattern',7,5,3,2),('pattern',7,5,11,9),('pattern',7,5,4,5),('pattern',7,5,7,3),('pattern',7,5,2,5),
       ('checker',40,30,7,5),('checker',40,30,9,33),('checker',13,11,29,4)]
for kind,w,h,ow,oh in cases:
    im={'pattern':pattern,'checker':checker,'step':step}[kind](w,h)
    out=im.resize((ow,oh),Image.BICUBIC).tobytes()
    name=f"b_{kind}_{w}x{h}_{ow}x{oh}"
    print(f"    static const uint8_t {name}[] = {{"+", ".join(str(v) for v in out)+"};")
