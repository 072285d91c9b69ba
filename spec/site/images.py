# Writes test images with Pillow (Debian python3-pil) for spec/cli_spec.lua and
# spec/site_spec.lua, so that no image file is committed. Run by /usr/bin/python3.
#   python3 images.py DIR NAME:FORMAT:WIDTHxHEIGHT[:COLOR] ...
# FORMAT is JPEG, PNG, GIF or WEBP; each image gets a gradient and a label so that distinct
# specs give distinct files (and content hashes).
import sys
from PIL import Image, ImageDraw

out = sys.argv[1]
for n, spec in enumerate(sys.argv[2:]):
    name, fmt, size = spec.split(":")[:3]
    w, h = (int(v) for v in size.split("x"))
    img = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(img)
    bw, bh = max(1, w // 16), max(1, h // 16)
    for y in range(0, h, bh):
        for x in range(0, w, bw):
            c = ((x * 255 // w) ^ (n * 37)) & 255, (y * 255 // h), (n * 53) & 255
            draw.rectangle([x, y, x + bw - 1, y + bh - 1], fill=c)
    draw.text((4, 4), name, fill=(255, 255, 255))
    img.save(out + "/" + name, fmt)
