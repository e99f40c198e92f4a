"""Videos, animated GIFs and phone-format photos for media tests, generated on the spot.

Clips come from ffmpeg's lavfi sources (nothing on disk in the repository), shaped like
what phones and apps upload: an iPhone-style HEVC QuickTime with a rotation and a GPS
position, an H.264/AAC MP4 that already is web-safe, and the broken and oversized files
the pipeline must fail cleanly on.
"""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

from PIL import Image

from tests.support.images import encoded

#: ISO 6709 position the phone clips carry; no rendition may contain it.
GPS = "+37.7749-122.4194+010.000/"
GPS_MARKER = b"37.7749"


def ffmpeg(*args: str, timeout: float = 120) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args],
                   check=True, timeout=timeout)


def _source(seconds: float, size: str, rate: int, *, audio: bool) -> list[str]:
    video = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}"]
    sound = ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"] if audio else []
    return [*video, *sound]


def phone_mov(path: Path, *, seconds: float = 2, size: str = "1280x720", rate: int = 30,
              rotate: int = 90) -> Path:
    """An iPhone-style clip: HEVC in QuickTime, landscape pixels plus a display rotation
    (a portrait recording), AAC sound and the phone's GPS position in its metadata atoms."""
    raw = path.with_suffix(".raw.mov")
    ffmpeg(*_source(seconds, size, rate, audio=True),
           "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
           "-tag:v", "hvc1", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           "-movflags", "+use_metadata_tags",
           "-metadata", f"com.apple.quicktime.location.ISO6709={GPS}",
           "-metadata", f"location={GPS}", "-metadata", "com.apple.quicktime.make=Apple",
           "-f", "mov", str(raw))
    # The rotation as a display matrix, set the way ffmpeg 5 (Debian 12) does it.
    ffmpeg("-i", str(raw), "-map", "0", "-c", "copy", "-map_metadata", "0",
           "-movflags", "+use_metadata_tags", "-metadata:s:v:0", f"rotate={rotate}",
           "-f", "mov", str(path))
    raw.unlink()
    return path


def web_mp4(path: Path, *, seconds: float = 2, size: str = "640x360", rate: int = 30,
            kbps: int = 1000, audio: bool = True, gps: bool = True) -> Path:
    """H.264 High 4:2:0 + AAC-LC in MP4 under the bitrate cap: only needs a remux (it
    still carries a GPS position, which the remux must drop)."""
    ffmpeg(*_source(seconds, size, rate, audio=audio),
           "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high",
           "-b:v", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{2 * kbps}k",
           "-pix_fmt", "yuv420p", *(["-c:a", "aac", "-shortest"] if audio else []),
           *(["-metadata", f"location={GPS}"] if gps else []), str(path))
    return path


def tiny_clip(path: Path, *, seconds: float, size: str = "64x48") -> Path:
    """A small, fast to make clip of any length or shape (for the caps)."""
    ffmpeg("-f", "lavfi", "-i", f"color=c=teal:size={size}:rate=5:duration={seconds}",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path))
    return path


def truncated_mp4(path: Path) -> bytes:
    """A faststart MP4 (index first) cut in half: the index promises frames that are gone."""
    source = path.with_suffix(".whole.mp4")
    ffmpeg(*_source(3, "640x360", 30, audio=True), "-c:v", "libx264", "-preset",
           "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
           "-movflags", "+faststart", str(source))
    data = source.read_bytes()
    source.unlink()
    return data[: len(data) // 2]


def audio_only_m4a(path: Path) -> bytes:
    """Sound in an MP4 container: passes the MP4 sniff, has no picture."""
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "aac",
           "-f", "mp4", str(path))
    return path.read_bytes()


def animated_gif(frames: int = 12, size: tuple[int, int] = (160, 120),
                 delay_ms: int = 80) -> bytes:
    """A looping GIF of distinct frames (Pillow merges identical ones)."""
    images = [Image.new("RGB", size, ((i * 53) % 256, (i * 101) % 256, 180))
              for i in range(frames)]
    return encoded(images[0], "GIF", save_all=True, append_images=images[1:],
                   duration=delay_ms, loop=0)


def still_gif(size: tuple[int, int] = (160, 120)) -> bytes:
    """A GIF of one frame: a still image, not an animation."""
    return encoded(Image.new("RGB", size, "purple"), "GIF")


def gif_with_frames(count: int) -> bytes:
    """A GIF with ``count`` frames, made by repeating one frame's blocks (Pillow would take
    minutes to encode 10 000 frames and merge the duplicates)."""
    two = animated_gif(2, (8, 8), 20)
    trailer = two.rindex(b"\x3b")
    # The second frame: from its graphic control extension to the trailer.
    second = two.rindex(b"\x21\xf9", 0, trailer)
    frame = two[second:trailer]
    return two[:second] + frame * (count - 1) + b"\x3b"


def heic_bytes(image: Image.Image, **options: object) -> bytes:
    """``image`` as HEIC, through pillow-heif (a real dependency)."""
    import pillow_heif

    pillow_heif.register_heif_opener()
    buf = io.BytesIO()
    image.save(buf, "HEIF", **options)
    return buf.getvalue()


#: Colour of the corner that is top-left as stored; upright, it is top-right (orientation 6).
MARK = (230, 20, 20)


def phone_photo(fmt: str, size: tuple[int, int] = (1200, 800)) -> bytes:
    """A photo as a phone stores a portrait shot: landscape pixels, EXIF orientation 6
    (turn 90 degrees clockwise to display), the camera's make and a GPS position, and a
    red block in the stored top-left corner to tell which way it was turned.

    ``fmt``: HEIF (pillow-heif turns the orientation into the container's rotation, as
    iPhones do), AVIF, WEBP, PNG (an eXIf chunk) or JPEG.
    """
    width, height = size
    im = Image.linear_gradient("L").resize(size).convert("RGB")
    im.paste(MARK, (0, 0, width // 6, height // 6))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation
    exif[0x010F] = "Apple"
    exif[0x0110] = "iPhone 15"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (37.0, 46.0, 29.64), 3: "W", 4: (122.0, 25.0, 9.84)})
    if fmt == "HEIF":
        return heic_bytes(im, exif=exif.tobytes(), quality=80)
    options: dict[str, object] = {"quality": 80} if fmt != "PNG" else {}
    return encoded(im, fmt, exif=exif.tobytes(), **options)


# --------------------------------------------------------------------------- HEIC grids


def _box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(body), kind) + body


def _full_box(kind: bytes, version: int, body: bytes, flags: int = 0) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags) + body)


def _children(data: bytes, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    """Box type -> (body start, box end) of the boxes between ``start`` and ``end``."""
    found: dict[bytes, tuple[int, int]] = {}
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos:pos + 8])
        found.setdefault(kind, (pos + 8, pos + size))
        pos += size
    return found


def _hevc_tile(image: Image.Image) -> tuple[bytes, bytes]:
    """(hvcC box, coded picture) of ``image`` encoded alone by pillow-heif."""
    data = heic_bytes(image, quality=70)
    meta_start, meta_end = _children(data, 0, len(data))[b"meta"]
    meta = _children(data, meta_start + 4, meta_end)
    ipco_start, ipco_end = _children(data, *meta[b"iprp"])[b"ipco"]
    hvcc_start, hvcc_end = _children(data, ipco_start, ipco_end)[b"hvcC"]
    iloc_start, _ = meta[b"iloc"]
    version = data[iloc_start]
    sizes = data[iloc_start + 4:iloc_start + 6]
    offset_size, length_size = sizes[0] >> 4, sizes[0] & 0x0F
    base_size = sizes[1] >> 4
    pos = iloc_start + 6 + 2 + 2 + (2 if version in (1, 2) else 0) + 2
    base = int.from_bytes(data[pos:pos + base_size], "big")
    pos += base_size
    assert int.from_bytes(data[pos:pos + 2], "big") == 1, "one extent expected"
    pos += 2
    offset = base + int.from_bytes(data[pos:pos + offset_size], "big")
    length = int.from_bytes(data[pos + offset_size:pos + offset_size + length_size], "big")
    return data[hvcc_start - 8:hvcc_end], data[offset:offset + length]


def heic_grid(rows: int = 2, cols: int = 2, tile: int = 256, *,
              drop_tile: bool = False) -> bytes:
    """A HEIC laid out as an iPhone writes one: a ``grid`` image of ``rows`` x ``cols``
    HEVC tiles (pillow-heif cannot write grids, so the boxes are assembled here).

    ``drop_tile``: the grid still says rows x cols but references one tile fewer: a
    broken grid, as a cut-short transfer or a buggy editor leaves it.
    """
    colours = [((i * 70) % 256, (i * 150) % 256, 200) for i in range(rows * cols)]
    tiles = [_hevc_tile(Image.new("RGB", (tile, tile), c)) for c in colours]
    refs = list(range(2, 2 + len(tiles)))[: len(tiles) - 1 if drop_tile else None]
    grid = struct.pack(">BBBBHH", 0, 0, rows - 1, cols - 1, cols * tile, rows * tile)
    infe = [_full_box(b"infe", 2, struct.pack(">HH4s", 1, 0, b"grid") + b"\0")]
    # Tiles are hidden items (flags 1): only the grid is an image of its own.
    infe += [_full_box(b"infe", 2, struct.pack(">HH4s", i, 0, b"hvc1") + b"\0", flags=1)
             for i in range(2, 2 + len(tiles))]
    ipco = _box(b"ipco", b"".join(hvcc for hvcc, _ in tiles)
                + _full_box(b"ispe", 0, struct.pack(">II", tile, tile))
                + _full_box(b"ispe", 0, struct.pack(">II", cols * tile, rows * tile)))
    tile_ispe, grid_ispe = len(tiles) + 1, len(tiles) + 2
    ipma = struct.pack(">I", 1 + len(tiles)) + struct.pack(">HBB", 1, 1, grid_ispe)
    for index in range(len(tiles)):
        ipma += struct.pack(">HBBB", 2 + index, 2, 0x80 | (index + 1), tile_ispe)

    def meta(mdat_body_at: int) -> bytes:
        extents, pos = [(1, mdat_body_at, len(grid))], mdat_body_at + len(grid)
        for index, (_, coded) in enumerate(tiles):
            extents.append((2 + index, pos, len(coded)))
            pos += len(coded)
        iloc = _full_box(b"iloc", 0, bytes([0x44, 0x00]) + struct.pack(">H", len(extents))
                         + b"".join(struct.pack(">HHHII", item, 0, 1, offset, length)
                                    for item, offset, length in extents))
        return _full_box(b"meta", 0, b"".join([
            _full_box(b"hdlr", 0, struct.pack(">I4s", 0, b"pict") + bytes(12) + b"\0"),
            _full_box(b"pitm", 0, struct.pack(">H", 1)),
            iloc,
            _full_box(b"iinf", 0, struct.pack(">H", len(infe)) + b"".join(infe)),
            _full_box(b"iref", 0, _box(b"dimg", struct.pack(">HH", 1, len(refs))
                                       + b"".join(struct.pack(">H", r) for r in refs))),
            _box(b"iprp", ipco + _full_box(b"ipma", 0, ipma)),
        ]))

    ftyp = _box(b"ftyp", b"heic" + bytes(4) + b"mif1heicmiaf")
    head = ftyp + meta(0)
    head = ftyp + meta(len(head) + 8)
    return head + _box(b"mdat", grid + b"".join(coded for _, coded in tiles))
