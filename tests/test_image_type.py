"""The `image` task type: thumbnails with Pillow, from the media root or a URL
through the webhooks' guard; hostile images fail with a sentence."""

import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from tasks.handlers import image, registry
from tasks.models import Task, TaskStatus
from tests.api_helpers import error_of, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path) -> Path:
    root = tmp_path / "media"
    (root / "uploads").mkdir(parents=True)
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "MEDIA_ROOT": str(root)}
    return root


def picture(size=(640, 480), kind="JPEG", mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, "teal").save(out, format=kind)
    return out.getvalue()


def run(payload: dict):
    image.validate_image_payload(payload)
    return registry.find("image").func(payload)


def test_a_thumbnail_of_a_file_under_the_media_root(media):
    (media / "uploads" / "image.jpg").write_bytes(picture())
    # Document 002: NewImageResizeTask("/uploads/image.jpg", "/uploads/thumb.jpg", 300, 200)
    result = run({"source": "/uploads/image.jpg", "output": "/uploads/thumb.jpg", "width": 300, "height": 200})
    assert result["output"] == "uploads/thumb.jpg" and result["format"] == "JPEG"
    assert (result["width"], result["height"]) == (267, 200)  # the aspect ratio is kept, within the box
    with Image.open(media / "uploads" / "thumb.jpg") as made:
        assert made.size == (267, 200) and result["bytes"] == (media / "uploads" / "thumb.jpg").stat().st_size


def test_a_png_with_transparency_and_a_default_output_name(media):
    (media / "logo.png").write_bytes(picture((100, 100), "PNG", "RGBA"))
    result = run({"source": "logo.png", "width": 32, "height": 32})
    assert result["output"] == "thumbnails/logo_32x32.png" and (result["width"], result["height"]) == (32, 32)
    assert run({"source": "logo.png", "width": 32, "height": 32, "format": "jpeg"})["format"] == "JPEG"


@pytest.mark.parametrize("source", ["../secret.jpg", "/../../etc/passwd", "uploads/../../x.jpg"])
def test_paths_outside_the_media_root_are_refused(media, source):
    (media.parent / "secret.jpg").write_bytes(picture())
    with pytest.raises(ValueError, match="outside the media root"):
        run({"source": source, "width": 10, "height": 10})
    with pytest.raises(ValueError, match="outside the media root"):
        (media / "a.jpg").write_bytes(picture())
        run({"source": "a.jpg", "output": source, "width": 10, "height": 10})


def test_a_symlink_out_of_the_media_root_is_refused(media):
    (media.parent / "outside.jpg").write_bytes(picture())
    (media / "link.jpg").symlink_to(media.parent / "outside.jpg")
    with pytest.raises(ValueError, match="outside the media root"):
        run({"source": "link.jpg", "width": 10, "height": 10})


def test_a_decompression_bomb_is_refused_from_its_header(media, settings):
    # Small for the test's sake: a limit of 1,000,000 pixels and a 3,000 x 3,000 PNG of 9 KB
    # (the real limit is 40 million; a 20,000 x 20,000 PNG is under 1 MB and decodes to 400 MB).
    settings.TASK_QUEUE = {**settings.TASK_QUEUE, "IMAGE_MAX_PIXELS": 1_000_000}
    (media / "bomb.png").write_bytes(picture((3_000, 3_000), "PNG", "L"))
    assert (media / "bomb.png").stat().st_size < 100_000
    with pytest.raises(ValueError, match="decompression bomb"):
        run({"source": "bomb.png", "width": 10, "height": 10})


@pytest.mark.parametrize("content, message", [
    (b"%PDF-1.4 not an image", "not an image this type reads"),
    (picture(kind="BMP"), "not an image this type reads"),  # a real image, of a format not allowed
    (picture()[:300], "could not be decoded"),  # truncated
])
def test_wrong_formats_and_broken_files_fail_with_a_sentence(media, content, message):
    (media / "bad.jpg").write_bytes(content)
    with pytest.raises(ValueError, match=message):
        run({"source": "bad.jpg", "width": 10, "height": 10})


@pytest.mark.parametrize("payload", [
    "uploads/image.jpg", {"source": "x.jpg"}, {"source": "x.jpg", "width": 0, "height": 10},
    {"source": "x.jpg", "width": 10, "height": 10, "colour": "red"},
    {"source": "x.jpg", "width": 10, "height": 10, "format": "TIFF"},
    {"source": "http://169.254.169.254/latest/meta-data/", "width": 10, "height": 10},
])
def test_bad_payloads_are_refused_at_enqueue(api, payload):
    assert "payload" in error_of(post(api, "/api/tasks", {"type": "image", "payload": payload}), 400)["fields"]
    assert Task.objects.count() == 0


class ImageServer:
    """Serves one image over HTTP on a loopback address."""

    def __init__(self, body: bytes):
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_url_goes_through_the_webhooks_guard(media, settings):
    server = ImageServer(picture())
    try:
        with pytest.raises(ValueError, match="refused.*not public"):  # at enqueue: the address is in the URL
            run({"source": f"{server.url}/photo.jpg", "width": 50, "height": 50})
        with pytest.raises(ValueError, match="refused.*non-public"):  # when it runs: the name resolves to it
            run({"source": f"{server.url.replace('127.0.0.1', 'localhost')}/photo.jpg", "width": 50, "height": 50})
        settings.TASK_QUEUE = {**settings.TASK_QUEUE, "WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.1/32"]}
        result = run({"source": f"{server.url}/photo.jpg?size=big", "width": 50, "height": 50})
        assert result["output"] == "thumbnails/photo_50x50.jpg" and result["width"] == 50
        settings.TASK_QUEUE = {**settings.TASK_QUEUE, "IMAGE_MAX_BYTES": 1000}
        with pytest.raises(Exception, match="more than 1000 bytes"):
            run({"source": f"{server.url}/photo.jpg", "width": 50, "height": 50})
    finally:
        server.close()


@pytest.mark.django_db(transaction=True)
def test_document_002_image_endpoint_and_a_worker_make_the_thumbnail(api, start_worker, tmp_path):
    media = tmp_path / "media"
    (media / "uploads").mkdir(parents=True)
    (media / "uploads" / "image.jpg").write_bytes(picture())
    body = {"source": "/uploads/image.jpg", "output": "/uploads/thumb.jpg", "width": 300, "height": 200}
    created = post(api, "/api/queue/image", body)
    assert created.status_code == 201, created.content
    bomb = post(api, "/api/queue/image", {"source": "bomb.png", "width": 5, "height": 5, "max_retries": 0}).json()
    (media / "bomb.png").write_bytes(picture((3_000, 3_000), "PNG", "L"))
    start_worker("--concurrency", "1", "--burst",
                 env={"QUEUE_MEDIA_ROOT": str(media), "QUEUE_IMAGE_MAX_PIXELS": "1000000"}).wait()
    task = Task.objects.get(pk=created.json()["id"])
    assert task.status == TaskStatus.COMPLETED, task.last_error
    assert task.result["output"] == "uploads/thumb.jpg" and (task.result["width"], task.result["height"]) == (267, 200)
    failed = Task.objects.get(pk=bomb["id"])
    assert failed.status == TaskStatus.FAILED and "decompression bomb" in failed.last_error
