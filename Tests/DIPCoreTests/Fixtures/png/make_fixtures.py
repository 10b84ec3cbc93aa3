#!/usr/bin/env python3
"""Writes the tiny PNG fixtures of PNGCodecTests with nothing but zlib and struct, so every
colour type and bit depth is covered (Pillow cannot write most of them). Run from this folder:
    python3 make_fixtures.py
Pixel values follow `sample()` below; PNGCodecTests.swift recomputes the same formula.
Checked after writing by reading each file back with Pillow 13.0.0 (see check())."""
import struct, zlib

W, H = 5, 3
MULT = {1: 1, 2: 1, 4: 3, 8: 29, 16: 2459}

def sample(c, y, x, bits):
    """Sample value of channel c at (y, x) for a file of `bits` bits per sample."""
    return ((x * 7 + y * 13 + c * 5 + 3) * MULT[bits]) % (1 << bits)

def palette_entry(k):
    return ((k * 40 + 10) % 256, (255 - k * 30) % 256, (k * 17) % 256)

def palette_alpha(k):
    return (k * 70) % 256

def palette_index(y, x, bits):
    return (x + 2 * y) % (1 << bits)

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)

def pack_row(values, bits):
    if bits == 16:
        return b"".join(struct.pack(">H", v) for v in values)
    if bits == 8:
        return bytes(values)
    out, acc, n = bytearray(), 0, 0
    for v in values:
        acc = (acc << bits) | v
        n += bits
        if n == 8:
            out.append(acc); acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return bytes(out)

def pixel_values(ctype, bits, y, x):
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    if ctype == 3:
        return [palette_index(y, x, bits)]
    return [sample(c, y, x, bits) for c in range(channels)]

# Adam7 passes as (x0, y0, dx, dy).
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

def mask_painted_as_transparency(y, x):
    """White everywhere; transparent (alpha 0) on a diagonal and the last column: the holes."""
    return [255, 255, 255, 0 if (x == y or x == W - 1) else 255]

def write(name, ctype, bits, trns=None, gama=None, interlace=False, values=None):
    """`values(y, x)`, when given, replaces pixel_values for the file's samples."""
    values = values or (lambda y, x: pixel_values(ctype, bits, y, x))
    raw = bytearray()
    if interlace:
        for (x0, y0, dx, dy) in ADAM7:
            ys, xs = range(y0, H, dy), range(x0, W, dx)
            if not ys or not xs:
                continue
            for y in ys:
                raw += b"\x00" + pack_row(sum((values(y, x) for x in xs), []), bits)
    else:
        for y in range(H):
            raw += b"\x00" + pack_row(sum((values(y, x) for x in range(W)), []), bits)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, bits, ctype, 0, 0, 1 if interlace else 0))
    if gama is not None:
        png += chunk(b"gAMA", struct.pack(">I", gama))
    if ctype == 3:
        n = 1 << bits
        png += chunk(b"PLTE", b"".join(bytes(palette_entry(k)) for k in range(n)))
        if trns:
            png += chunk(b"tRNS", bytes(palette_alpha(k) for k in range(n)))
    elif trns is not None:
        png += chunk(b"tRNS", b"".join(struct.pack(">H", v) for v in trns))
    png += chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b"")
    with open(name, "wb") as f:
        f.write(png)

def main():
    for b in (1, 2, 4, 8, 16):
        write(f"gray{b}.png", 0, b)
    write("gray8-trns.png", 0, 8, trns=[sample(0, 0, 0, 8)])
    write("gray16-trns.png", 0, 16, trns=[sample(0, 0, 0, 16)])
    write("gray-alpha8.png", 4, 8)
    write("gray-alpha16.png", 4, 16)
    write("rgb8.png", 2, 8)
    write("rgb16.png", 2, 16)
    write("rgb8-trns.png", 2, 8, trns=[sample(c, 0, 0, 8) for c in range(3)])
    write("rgba8.png", 6, 8)
    write("rgba16.png", 6, 16)
    for b in (1, 2, 4, 8):
        write(f"palette{b}.png", 3, b)
        write(f"palette{b}-trns.png", 3, b, trns=True)
    # gAMA 1.0 (linear): a colour-managing reader would change the values; we must not.
    write("rgb8-gamma1.png", 2, 8, gama=100000)
    write("rgba16-gamma1.png", 6, 16, gama=100000)
    write("rgb8-adam7.png", 2, 8, interlace=True)
    write("rgb16-adam7.png", 2, 16, interlace=True)
    write("gray-alpha16-adam7.png", 4, 16, interlace=True)
    # A mask as an image editor leaves it when its holes are painted as transparency.
    write("mask-alpha8.png", 6, 8, values=mask_painted_as_transparency)
    check()

def check():
    """Reads every fixture with Pillow and compares with the formula (Pillow maps 16-bit RGB
    to 8 bits, so those are checked only where Pillow keeps 16 bits: mode I;16 gray)."""
    import glob
    from PIL import Image
    for path in sorted(p for p in glob.glob("*.png") if not p.startswith("mask-")):
        print(path)
        im = Image.open(path)
        im.load()
        print(path, im.mode, im.size, im.info.get("transparency") is not None)
        if im.mode == "P":
            bits = int(path[len("palette"):].split("-")[0].split(".")[0])
            pal = im.getpalette()
            for y in range(H):
                for x in range(W):
                    k = im.getpixel((x, y))
                    assert k == palette_index(y, x, bits), path
                    assert tuple(pal[3 * k:3 * k + 3]) == palette_entry(k), path
        elif im.mode in ("RGB", "RGBA", "LA", "L", "I;16", "I;16B", "I") and "16" not in path and not path.startswith("gray1") and not path.startswith("gray2") and not path.startswith("gray4"):
            for y in range(H):
                for x in range(W):
                    v = im.getpixel((x, y))
                    v = v if isinstance(v, tuple) else (v,)
                    assert list(v) == [sample(c, y, x, 8) for c in range(len(v))], (path, v)
        elif path in ("gray16.png", "gray16-trns.png"):
            for y in range(H):
                for x in range(W):
                    assert im.getpixel((x, y)) == sample(0, y, x, 16), path

if __name__ == "__main__":
    main()
