"""Pure, CPU-bound photo pipeline: untrusted bytes in, fixed-size JPEG derivatives out.

Why it is shaped like this:

* Pure functions of picklable values, so the Kafka consumer can run them in a
  ``ProcessPoolExecutor`` (Pillow holds the GIL for much of its work) and re-run them after a
  crash: the same input bytes always give the same output bytes, so re-processing an event
  overwrites objects with identical content (idempotent sinks).
* Every problem with the *input* becomes :class:`MediaRejected` with a reason a user can read;
  the consumer turns that into a "rejected" event instead of retrying forever.
* Speed comes from not doing work we would throw away (``python -m bench.media`` measures
  each choice against a naive Pillow pipeline and prints the PSNR cost):
  JPEG DCT scaling (``draft``) decodes a 12 MP photo at 1/2 (or 1/4, 1/8) size directly;
  each derivative is resized from the next larger one, with libvips' vectorised Lanczos
  (:mod:`processors.media.resample`); rotation happens after the first resize; a JPEG
  upload that already is the large derivative is copied minus its metadata instead of
  re-encoded; and outputs are baseline JPEG, whose encode costs a third of progressive's.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from PIL import Image, ImageCms, UnidentifiedImageError

from processors.media.jpegstrip import strip_metadata
from processors.media.placeholder import Placeholder, make_placeholder
from processors.media.resample import downscale_raw
from schemas import media_formats

__all__ = [
    "MAX_ASPECT",
    "SIZES",
    "THUMB_EDGE",
    "Derivative",
    "MediaRejected",
    "Placeholder",
    "Rendition",
    "check_pixels",
    "decode_upright",
    "encode_jpeg",
    "image_decoders",
    "render_photo",
]

#: Width-bounded derivatives, largest first (each is resized from the previous one).
SIZES: tuple[tuple[str, int], ...] = (("large", 1080), ("medium", 640), ("small", 320))
#: Edge of the square, centre-cropped thumbnail.
THUMB_EDGE = 150
#: Longest side / shortest side. Width-bounded derivatives of a 1:100 strip would be taller
#: than JPEG's 65,500 px limit and useless in a feed; 360-degree panoramas are ~1:10.
MAX_ASPECT = 20
JPEG_CONTENT_TYPE = "image/jpeg"
AVIF_CONTENT_TYPE = "image/avif"
#: The derivatives that also get an AVIF twin (named ``<name>_avif``): the ones a feed and a
#: photo page load, where the bytes are; small and thumb are a few KB either way.
AVIF_SIZES = frozenset({"large", "medium"})
AVIF_SUFFIX = "_avif"
AVIF_SPEED = 9

# Decoders Pillow may use; everything else (EPS, PSD, TGA, ...) is attack surface we do not need.
_PILLOW_FORMATS = {
    media_formats.JPEG: ["JPEG"],
    media_formats.PNG: ["PNG"],
    media_formats.GIF: ["GIF"],
    media_formats.WEBP: ["WEBP"],
    media_formats.HEIC: ["HEIF"],
    media_formats.HEIF: ["HEIF"],
    media_formats.AVIF: ["AVIF"],
}
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
# EXIF orientation -> the transpose that displays the stored image upright.
_ORIENT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# EXIF orientations that swap width and height.
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})
_WHITE = (255, 255, 255)
# Derivatives big enough for progressive rendering to be worth its encode time.
_PROGRESSIVE = frozenset({"large", "medium"})
_SRGB = ImageCms.createProfile("sRGB")
# Pass the input through as the large derivative only up to this (estimated) JPEG quality:
# above it, re-encoding at ``quality`` saves enough bytes to be worth the time.
PASSTHROUGH_MAX_QUALITY = 92
# Sum of the ITU-T T.81 Annex K luminance quantisation table (libjpeg's quality 50).
_ANNEX_K_LUMA_SUM = 3710

T = TypeVar("T")
_BROKEN_HEIF = ("corrupt image: no decodable picture in this HEIC (a broken tile grid or a "
                "cut-short file)")


class MediaRejected(Exception):
    """The input is not a photo we will process; ``reason`` is meant for the uploader."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __reduce__(self) -> tuple[type[MediaRejected], tuple[str]]:
        # Keeps the reason intact across the process-pool pickle boundary.
        return (MediaRejected, (self.reason,))


@dataclass(frozen=True, slots=True)
class Derivative:
    """One encoded output, ready to upload."""

    name: str  # "large" | "medium" | "small" | "thumb"
    width: int
    height: int
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Rendition:
    """Everything the processor publishes about one photo."""

    original_width: int  # after EXIF orientation, i.e. as displayed
    original_height: int
    derivatives: list[Derivative]
    placeholder: Placeholder


def render_photo(
    data: bytes, *, max_pixels: int, quality: int = 82, progressive: bool = False,
    avif_quality: int = 0,
) -> Rendition:
    """Validate ``data`` and produce the thumb/small/medium/large JPEG derivatives, and
    with ``avif_quality`` (> 0) AVIF twins of large and medium (``large_avif``...).

    ``max_pixels`` is checked against the header's declared size before any pixel is decoded,
    so a 40 KB PNG claiming 30000x30000 costs microseconds, not 3.6 GB of RAM.
    ``progressive`` applies to large/medium only (see :func:`_encode_jpeg`).
    Raises :class:`MediaRejected` for any input that cannot be processed.
    """
    mime, allowed = image_decoders(data)

    with warnings.catch_warnings():
        # Pillow's own bomb guard warns below 2x MAX_IMAGE_PIXELS; we want a verdict, not a log.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            _guarded(lambda: _verify(data, allowed, max_pixels))
        except MediaRejected as exc:
            if mime in (media_formats.HEIC, media_formats.HEIF) and exc.reason.startswith(
                    "not an image"):
                # libheif found no picture it can decode: the file says HEIC, so tell why.
                raise MediaRejected(_BROKEN_HEIF) from exc
            raise
        im, orientation = _guarded(lambda: _open_for_decode(data, allowed))
        ow, oh = _oriented_size(im.size, orientation)
        plan = _plan(ow, oh)
        if im.format == "JPEG":
            # Draft before transpose: DCT scaling only applies to the stored (unrotated) image.
            need = _decode_size(plan, ow, oh)
            if orientation in _TRANSPOSING_ORIENTATIONS:
                need = (need[1], need[0])
            im.draft("RGB", need)
        icc = im.info.get("icc_profile")
        _guarded(im.load)
    im = _guarded(lambda: _normalize_mode(im))
    is_jpeg = mime == media_formats.JPEG
    same = _passthrough(data, mime, im, plan, orientation, icc) if is_jpeg else None
    return _render(im, plan, (ow, oh), orientation, icc, quality, progressive, same,
                   avif_quality)


def decode_upright(data: bytes, *, max_pixels: int, cover: tuple[int, int]) -> Image.Image:
    """``data`` checked as :func:`render_photo` checks it, decoded upright in sRGB RGB.

    For renderers that crop (profile images: :mod:`processors.media.profile_images`).
    A JPEG is decoded with DCT scaling to the smallest size whose both sides still cover
    ``cover``, the largest crop that will be cut from it. Raises :class:`MediaRejected`.
    """
    _, allowed = image_decoders(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        _guarded(lambda: _verify(data, allowed, max_pixels))
        im, orientation = _guarded(lambda: _open_for_decode(data, allowed))
        if im.format == "JPEG":
            ow, oh = _oriented_size(im.size, orientation)
            scale = min(1.0, max(cover[0] / ow, cover[1] / oh))
            need = (max(1, int(ow * scale)), max(1, int(oh * scale)))
            im.draft("RGB", _oriented_size(need, orientation))
        icc = im.info.get("icc_profile")
        _guarded(im.load)
    upright = _guarded(lambda: _orient(_normalize_mode(im), orientation))
    return _guarded(lambda: _to_srgb(upright, icc))


def image_decoders(data: bytes) -> tuple[str, list[str]]:
    """The sniffed type of ``data`` and the only Pillow decoders allowed to open it."""
    if not data:
        raise MediaRejected("empty file: zero bytes")
    mime = media_formats.sniff(data[: media_formats.SNIFF_BYTES])
    if mime is None or mime not in media_formats.IMAGE_TYPES:
        raise MediaRejected("not an image: cannot identify image file")
    if mime in (media_formats.HEIC, media_formats.HEIF) and not media_formats.heif_available():
        raise MediaRejected(f"unsupported image format: {mime} (no HEIF decoder installed)")
    if mime == media_formats.AVIF and not media_formats.avif_available():
        raise MediaRejected(f"unsupported image format: {mime} (no AVIF decoder installed)")
    return mime, _PILLOW_FORMATS[mime]


def encode_jpeg(im: Image.Image, quality: int) -> bytes:
    """Baseline JPEG with no metadata, as every photo derivative is encoded."""
    return _encode_jpeg(im, quality, progressive=False)


def _guarded(fn: Callable[[], T]) -> T:
    """Run a decode step, translating whatever Pillow raises on bad bytes into a verdict.

    Pillow signals malformed input with OSError, SyntaxError, ValueError, EOFError,
    struct.error, IndexError, ... depending on the plugin; the contract with the consumer is
    "bad bytes -> MediaRejected", so the catch here is deliberately broad.
    """
    try:
        return fn()
    except MediaRejected:
        raise
    except UnidentifiedImageError as exc:
        raise MediaRejected("not an image: cannot identify image file") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaRejected(f"image too large: {exc}") from exc
    except MemoryError as exc:
        raise MediaRejected("image too large: out of memory while decoding") from exc
    except Exception as exc:
        if "truncated" in str(exc).lower():
            raise MediaRejected("truncated image data") from exc
        raise MediaRejected(f"corrupt image: {type(exc).__name__}: {exc}") from exc


def check_pixels(size: tuple[int, int], max_pixels: int) -> None:
    """MediaRejected for a declared size we will not decode (too many pixels, too long)."""
    w, h = size
    if w <= 0 or h <= 0:
        raise MediaRejected(f"corrupt image: invalid dimensions {w}x{h}")
    if w * h > max_pixels:
        raise MediaRejected(
            f"image too large: {w}x{h} = {w * h / 1e6:.0f} MP exceeds the "
            f"{max_pixels / 1e6:.0f} MP limit"
        )
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise MediaRejected(
            f"unsupported aspect ratio: {w}x{h} is more elongated than 1:{MAX_ASPECT}"
        )


def _verify(data: bytes, allowed: list[str], max_pixels: int) -> None:
    """Size check, then a structural check (PNG CRCs etc.) on a throw-away handle:
    ``verify()`` leaves the image unusable, hence the second open in :func:`_open_for_decode`.

    Pillow's own bomb guard is switched off for this header-only open so that *our* limit,
    with its readable reason, decides; it is back on (as a backstop) for the decoding open.
    The switch is a module global, which is fine in the single-threaded pool workers.
    """
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        probe = Image.open(io.BytesIO(data), formats=allowed)
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    with probe:
        check_pixels(probe.size, max_pixels)
        probe.verify()


def _open_for_decode(data: bytes, allowed: list[str]) -> tuple[Image.Image, int]:
    im = Image.open(io.BytesIO(data), formats=allowed)
    try:
        orientation = int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # a mangled EXIF block should not cost the user their photo
        orientation = 1
    return im, orientation


def _oriented_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    w, h = size
    return (h, w) if orientation in _TRANSPOSING_ORIENTATIONS else (w, h)


@dataclass(frozen=True, slots=True)
class _Plan:
    sizes: list[tuple[str, int, int]]  # (name, width, height), largest first
    thumb: int  # edge of the square thumbnail


def _plan(ow: int, oh: int) -> _Plan:
    """Target sizes for an ``ow`` x ``oh`` (displayed) original; never upscales."""
    sizes = []
    for name, target in SIZES:
        w = min(target, ow)
        h = oh if w == ow else max(1, round(oh * w / ow))
        sizes.append((name, w, h))
    return _Plan(sizes, min(THUMB_EDGE, ow, oh))


def _decode_size(plan: _Plan, ow: int, oh: int) -> tuple[int, int]:
    """Smallest displayed size that still covers every derivative (incl. the thumb's crop)."""
    _, lw, lh = plan.sizes[0]
    scale = max(lw / ow, lh / oh, plan.thumb / min(ow, oh))
    return max(1, int(ow * scale)), max(1, int(oh * scale))


def _normalize_mode(im: Image.Image) -> Image.Image:
    """Bring any decoded mode to RGB, L or CMYK (8-bit, no alpha) for resizing.

    * 16/32-bit and float greyscale are rescaled: a plain ``convert("L")`` clips 16-bit values
      to 255 and renders a 16-bit PNG white.
    * Transparency is flattened onto white because JPEG has no alpha and black (the default
      for discarded alpha) looks like a bug on transparent logos.
    * CMYK stays CMYK so an embedded CMYK ICC profile can be applied later; Pillow has already
      undone Adobe's inverted CMYK while decoding.
    """
    mode = im.mode
    if mode in ("RGB", "L", "CMYK"):
        return im
    if mode == "1":
        return im.convert("L")
    if mode.startswith("I;16") or mode == "I":
        return _scale_to_8bit(im.convert("I") if mode != "I" else im, integer=True)
    if mode == "F":
        return _scale_to_8bit(im, integer=False)
    if mode == "P" or mode == "PA":
        has_alpha = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if has_alpha else "RGB")
        return _flatten(im) if has_alpha else im
    if mode in _ALPHA_MODES:
        return _flatten(im.convert("RGBA") if mode != "RGBA" else im)
    return im.convert("RGB")  # YCbCr, LAB, HSV, ...


def _scale_to_8bit(im: Image.Image, *, integer: bool) -> Image.Image:
    lo, hi = im.getextrema()
    assert isinstance(lo, int | float) and isinstance(hi, int | float)
    if integer and lo >= 0 and hi <= 255:
        return im.convert("L")
    if integer and lo >= 0 and hi <= 65535:
        lo, hi = 0, 65535  # assume full 16-bit range, so a dark photo stays dark
    elif not integer and lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    span = (hi - lo) or 1
    scaled = im.point(lambda v: (v - lo) * (255.0 / span))
    return scaled.convert("L")


def _flatten(rgba: Image.Image) -> Image.Image:
    base = Image.new("RGB", rgba.size, _WHITE)
    base.paste(rgba, mask=rgba.getchannel("A"))
    return base


def _is_srgb(icc: bytes) -> bool:
    """Whether an embedded profile is (a flavour of) sRGB, i.e. dropping it changes nothing."""
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return "srgb" in (ImageCms.getProfileDescription(src) or "").lower()
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return False


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """Convert to sRGB RGB, honouring an embedded ICC profile that is not already sRGB.

    Outputs carry no profile (browsers treat untagged JPEG as sRGB), so a Display-P3 or CMYK
    source must be converted here or its colours come out wrong. A broken profile falls back
    to the naive conversion: odd colours beat a rejected upload.
    """
    if icc and (im.mode != "RGB" or not _is_srgb(icc)):
        try:
            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out = ImageCms.profileToProfile(
                im, src, _SRGB, renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB"
            )
            if out is not None:
                return out
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass
    return im if im.mode == "RGB" else im.convert("RGB")


def _jpeg_quality(im: Image.Image) -> float:
    """libjpeg quality setting that produced the luminance table (inverse of its scaling)."""
    tables = getattr(im, "quantization", None) or {}
    luma = tables.get(0)
    if not luma:
        return 100.0
    scale = 100.0 * sum(luma) / _ANNEX_K_LUMA_SUM
    return (200.0 - scale) / 2 if scale <= 100 else 5000.0 / scale


def _passthrough(
    data: bytes, mime: str, im: Image.Image, plan: _Plan, orientation: int, icc: bytes | None
) -> bytes | None:
    """The input's own coded image, minus metadata, when it already *is* the large derivative.

    That is: a YCbCr JPEG no wider than the large size (so the derivative is the original
    size), displayed as stored (orientation 1; the EXIF tag goes with the metadata), in sRGB,
    and not so high a quality that re-encoding would save many bytes. Its pixels are the
    original's, so it is strictly closer to the source than any re-encode.
    """
    _, w, h = plan.sizes[0]
    if mime != media_formats.JPEG or orientation != 1 or im.mode != "RGB" or im.size != (w, h):
        return None
    if im.info.get("adobe_transform", 1) != 1:  # RGB-coded (not YCbCr) JPEG
        return None
    if icc and not _is_srgb(icc):
        return None
    if _jpeg_quality(im) > PASSTHROUGH_MAX_QUALITY + 0.5:
        return None
    return strip_metadata(data)


def _orient(im: Image.Image, orientation: int) -> Image.Image:
    method = _ORIENT.get(orientation)
    return im if method is None else im.transpose(method)


def _render(
    im: Image.Image,
    plan: _Plan,
    original: tuple[int, int],
    orientation: int,
    icc: bytes | None,
    quality: int,
    progressive: bool,
    large_blob: bytes | None,
    avif_quality: int = 0,
) -> Rendition:
    ow, oh = original
    images: list[tuple[str, Image.Image]] = []
    src = im
    raw: bytes | None = None  # src's pixel bytes, when known (see downscale_raw)
    swap = orientation in _TRANSPOSING_ORIENTATIONS
    for i, (name, w, h) in enumerate(plan.sizes):
        if i == 0:
            # Resize in stored orientation, then turn upright: transposing the large
            # derivative moves a fraction of the pixels of the decoded original. Colour-manage
            # once, here too: cheaper than on the decode.
            scaled, raw = downscale_raw(src, *((h, w) if swap else (w, h)))
            src = _to_srgb(_orient(scaled, orientation), icc)
            if src is not scaled:
                raw = None
        else:
            src, raw = downscale_raw(src, w, h, raw)
        images.append((name, src))

    # Thumb: centre square from the smallest image whose short side still covers the edge.
    t = plan.thumb
    covering = [img for _, img in images if min(img.size) >= t]
    thumb_src = covering[-1] if covering else _to_srgb(_orient(im, orientation), icc)
    sw, sh = thumb_src.size
    side = min(sw, sh)
    box = ((sw - side) / 2, (sh - side) / 2, (sw + side) / 2, (sh + side) / 2)
    thumb = thumb_src.resize((t, t), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
    images.append(("thumb", thumb))

    # id(image) -> bytes: "large == medium" when not upscaling, and the pass-through large.
    encoded: dict[int, bytes] = {}
    if large_blob is not None:
        encoded[id(images[0][1])] = large_blob
    derivatives = []
    for name, img in images:
        blob = encoded.get(id(img))
        if blob is None:
            prog = progressive and name in _PROGRESSIVE
            blob = encoded[id(img)] = _encode_jpeg(img, quality, progressive=prog)
        derivatives.append(Derivative(name, img.width, img.height, JPEG_CONTENT_TYPE, blob))
    if avif_quality > 0:
        avif: dict[int, bytes] = {}
        for name, img in images:
            if name in AVIF_SIZES:
                blob = avif.get(id(img)) or avif.setdefault(id(img),
                                                            _encode_avif(img, avif_quality))
                derivatives.append(Derivative(f"{name}{AVIF_SUFFIX}", img.width, img.height,
                                              AVIF_CONTENT_TYPE, blob))
    return Rendition(ow, oh, derivatives, make_placeholder(thumb))


def _encode_avif(im: Image.Image, quality: int) -> bytes:
    """AVIF at the JPEG derivative's quality: about half its bytes (docs/media-formats.md).

    Speed 9 (the fastest of libaom's useful settings) costs ~11x the JPEG encode, where the
    default speed 6 costs ~110x for 46% instead of 53% of the bytes (bench.formats). One
    thread: the pool already runs one worker per core. No metadata, like the JPEGs.
    """
    im.info = {}
    buf = io.BytesIO()
    im.save(buf, "AVIF", quality=quality, speed=AVIF_SPEED, max_threads=1,
            subsampling="4:2:0")
    return buf.getvalue()


def _encode_jpeg(im: Image.Image, quality: int, *, progressive: bool) -> bytes:
    """4:2:0 JPEG with no metadata at all (no EXIF/GPS/XMP/ICC/comment).

    Baseline with optimized Huffman tables by default: progressive scans let a 1080 px image
    paint early on a slow link, but libjpeg-turbo's progressive encode costs ~2.5x baseline
    (~17 of ~97 ms per 12 MP photo, bench.media "progressive" row) for files only ~3% smaller,
    and they are no smaller below ~10 KB, so small/thumb are never progressive. Optimized
    tables cost ~1-4 ms and save ~3-5% on every later download. Progressive implies optimal
    tables, so ``optimize`` only matters for baseline.
    """
    im.info = {}  # resize() copies info; make sure nothing can leak into the encoder
    buf = io.BytesIO()
    im.save(
        buf,
        "JPEG",
        quality=quality,
        progressive=progressive,
        optimize=not progressive,
        subsampling="4:2:0",
    )
    return buf.getvalue()
