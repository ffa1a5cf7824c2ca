"""The `image` task type: make a thumbnail with Pillow.

Payload: {"source": "uploads/photo.jpg" or "https://...", "width": 300,
"height": 200, "output": "thumbs/photo.jpg" (optional), "format": "JPEG"
(optional)}. Result: {"output": <path under the media root>, "path": <absolute
path>, "width": w, "height": h, "bytes": n, "format": ...}.

What a task names is hostile, as a webhook URL is:
- a file path must stay under QUEUE_MEDIA_ROOT once resolved (no "..", no
  symlink out); a leading "/" means the media root, as document 002's
  "/uploads/image.jpg" does;
- a URL is fetched through the webhooks' guard (public addresses only, each
  redirect checked, the connection pinned: tasks/webhooks/http.py), at most
  QUEUE_IMAGE_MAX_BYTES;
- only JPEG, PNG, GIF and WebP are decoded, and an image of more than
  QUEUE_IMAGE_MAX_PIXELS is refused from its header, before any decoding
  (a decompression bomb of a few KB would otherwise take gigabytes).
Every refusal is a ValueError with a sentence, recorded as the task's error.
"""

import io
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from tasks import conf
from tasks.handlers.registry import register
from tasks.webhooks import http

if TYPE_CHECKING:
    from PIL import Image

FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "GIF": ".gif", "WEBP": ".webp"}
FIELDS = {"source", "width", "height", "output", "format"}
MAX_SIDE = 10_000


def validate_image_payload(payload: Any) -> None:
    """At enqueue: the shape of the payload (files and URLs are checked when the task runs)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("source"), str) or not payload["source"]:
        raise ValueError('The image payload is an object with "source" (a path under the media root or an '
                         'http(s) URL), "width" and "height".')
    if unknown := sorted(set(payload) - FIELDS):
        raise ValueError(f"The image payload has unknown fields: {', '.join(unknown)}.")
    for side in ("width", "height"):
        value = payload.get(side)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SIDE:
            raise ValueError(f"The image payload's {side!r} is a whole number from 1 to {MAX_SIDE}.")
    if "output" in payload and (not isinstance(payload["output"], str) or not payload["output"]):
        raise ValueError("The image payload's 'output' is a path under the media root.")
    if "format" in payload and str(payload["format"]).upper() not in FORMATS:
        raise ValueError(f"The image payload's 'format' is one of {', '.join(FORMATS)}.")
    if _is_url(payload["source"]):
        try:
            http.check_url(payload["source"], resolve=False)
        except http.UnsafeURL as exc:
            raise ValueError(f"The image source is refused: {exc}") from None


@register("image", validate=validate_image_payload)
def make_thumbnail(payload: dict) -> dict:
    # Pillow is imported where it is used: the web processes load every handler (to
    # validate payloads) and never decode an image; importing it there cost 7 MB each.
    from PIL import ImageOps

    data, name = _read_source(payload["source"])
    image = _open(data)
    kind = str(payload.get("format") or image.format).upper()
    kind = kind if kind in FORMATS else "PNG"
    image = ImageOps.exif_transpose(image)
    image.thumbnail((payload["width"], payload["height"]))
    if kind == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    output = media_path(payload.get("output") or f"thumbnails/{Path(name).stem}_{payload['width']}x{payload['height']}"
                                                  f"{EXTENSIONS[kind]}")
    output.parent.mkdir(parents=True, exist_ok=True)
    image.save(output, format=kind)
    root = Path(conf.get("MEDIA_ROOT")).resolve()
    return {"output": str(output.relative_to(root)), "path": str(output), "width": image.width,
            "height": image.height, "bytes": output.stat().st_size, "format": kind}


def media_path(name: str) -> Path:
    """`name` under the media root, resolved; ValueError if it would leave it."""
    root = Path(conf.get("MEDIA_ROOT")).resolve()
    given = Path(name)
    path = (given if given.is_absolute() and given.resolve().is_relative_to(root)
            else root / PurePosixPath(name.lstrip("/"))).resolve()
    if path == root or not path.is_relative_to(root):
        raise ValueError(f"The path {name!r} is outside the media root (QUEUE_MEDIA_ROOT).")
    return path


def _read_source(source: str) -> tuple[bytes, str]:
    limit = conf.get("IMAGE_MAX_BYTES")
    if _is_url(source):
        try:
            return http.fetch(source, max_bytes=limit), PurePosixPath(source.split("?")[0]).name or "image"
        except http.UnsafeURL as exc:
            raise ValueError(f"The image source is refused: {exc}") from None
    path = media_path(source)
    if not path.is_file():
        raise ValueError(f"No image file at {source!r} under the media root.")
    if path.stat().st_size > limit:
        raise ValueError(f"The image file is over {limit} bytes (QUEUE_IMAGE_MAX_BYTES).")
    return path.read_bytes(), path.name


def _open(data: bytes) -> "Image.Image":
    """Decode `data` if it is an image of an allowed format and size."""
    from PIL import Image, UnidentifiedImageError

    limit = conf.get("IMAGE_MAX_PIXELS")
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only
    except UnidentifiedImageError:
        raise ValueError(f"The source is not an image this type reads ({', '.join(FORMATS)}).") from None
    except Image.DecompressionBombError as exc:  # Pillow's own limit, when it is below ours
        raise ValueError(f"The image is refused as a possible decompression bomb: {exc}") from None
    except (OSError, SyntaxError) as exc:  # a header cut short or malformed
        raise ValueError(f"The image could not be decoded: {exc}.") from None
    pixels = image.width * image.height
    if pixels > limit:
        raise ValueError(f"The image is {image.width}x{image.height} ({pixels} pixels), over the limit of {limit} "
                         "(QUEUE_IMAGE_MAX_PIXELS): refused as a possible decompression bomb.")
    try:
        image.load()
    except (OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"The image could not be decoded: {exc}.") from None
    return image


def _is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))
