"""Fingerprints of evidence files: SHA-256 for every file, PDQ (with its quality) for images.

Pure and synchronous (CPU-bound: callers run it in an executor). PDQ is Meta's perceptual hash,
the one StopNCII and platforms match against; two images whose 256-bit hashes differ in few
bits are the same picture after resizing or re-encoding. The bits are packed most significant
first into 64 hex digits, the form the reference tools print.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

import numpy as np
import pdqhash  # type: ignore[import-untyped]
from PIL import Image, UnidentifiedImageError

# Image types we try to decode for PDQ; other files get SHA-256 only.
IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp")


@dataclass(frozen=True)
class Fingerprint:
    sha256: str
    # 64 hex digits, or None when the file is not an image we could decode.
    pdq: str | None
    # 0-100; Meta advises not to match hashes of quality below 50 (flat or tiny images).
    pdq_quality: int | None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pack_bits(bits: object) -> str:
    """A 256-element 0/1 vector as 64 hex digits (first bit most significant)."""
    flat = np.asarray(bits).astype(np.uint8).ravel()
    if flat.size != 256:
        raise ValueError(f"expected 256 bits, got {flat.size}")
    return bytes(np.packbits(flat)).hex()


def decode_rgb(data: bytes) -> np.ndarray | None:
    """The image as an HxWx3 uint8 array, or None if it is not a (safe) image."""
    try:
        with warnings.catch_warnings():
            # A decompression bomb (a tiny file that decodes to gigapixels) is refused, not
            # decoded: treat it as "not an image" and keep only its SHA-256.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                img.seek(0)  # the first frame of an animation
                return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError,
            Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None


def pdq(data: bytes) -> tuple[str, int] | None:
    """PDQ hash and quality of an image file, or None if it cannot be decoded."""
    rgb = decode_rgb(data)
    if rgb is None or rgb.shape[0] < 2 or rgb.shape[1] < 2:
        return None
    bits, quality = pdqhash.compute(rgb)
    return pack_bits(bits), int(quality)


def fingerprint(data: bytes, mime: str) -> Fingerprint:
    """SHA-256 always; PDQ when `mime` says image and the bytes decode as one."""
    digest = sha256_hex(data)
    found = pdq(data) if mime in IMAGE_TYPES else None
    if found is None:
        return Fingerprint(digest, None, None)
    return Fingerprint(digest, found[0], found[1])
