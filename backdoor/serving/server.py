"""How the classroom server queues and launches the app."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import gradio as gr

MAX_UPLOAD = "10mb"
MAX_BATCH = 16  # inputs per model pass when students' requests queue up together
QUEUE_POLL = 0.005  # s between the queue's looks for waiting events; Gradio's own is 1 ms
BATCHED = {"batch": True, "max_batch_size": MAX_BATCH, "preprocess": False, "postprocess": False}
HERE = Path(__file__).resolve().parent
PAGE_CSS = (HERE / "page.css").read_text()  # presenter-first sizes, details one click away
PAGE_JS = (HERE / "page.js").read_text()  # the brush from the first stroke, names for screen readers, the frame
# Clears the drawing as a student does, with the canvas' own Clear button (its aria-label is translated, hence the
# toolbar's last button as a fallback): a Sketchpad set to None from the server kept its spinner for good.
CLEAR_CANVAS = """() => {
  const bar = document.querySelector('#digit-canvas');
  const clear = bar && (bar.querySelector('button[aria-label="Clear canvas"]') || [...bar.querySelectorAll('.toolbar-wrap button')].pop());
  if (clear) clear.click();
}"""


# Start over: the camera stops (its light too) and the canvas clears.
START_OVER = f"() => {{ window.labCamera?.stop(); ({CLEAR_CANVAS})(); }}"
# The webcam as the static page asks for it: the rear camera of a phone, VGA (the models see 32x32), not mirrored,
# so the models see the sign as it is and the sticker box's note lands where the static page puts it.
WEBCAM = gr.WebcamOptions(
    mirror=False, constraints={"video": {"facingMode": {"ideal": "environment"}, "width": {"ideal": 640}, "height": {"ideal": 480}}}
)
# The camera buttons' JS: page.js's labCamera drives Gradio's webcam and returns what it did (camera_said reads it).
CAMERA_JS = {"toggle": "() => window.labCamera.toggle()", "freeze": "() => window.labCamera.freeze()"}


def toggle_body_class(name: str) -> str:
    """The JS of a checkbox that shows or hides part of the page through a class on <body> (page.css)."""
    return f"(on) => {{ document.body.classList.toggle('{name}', on); }}"


def serve(demo: gr.Blocks, **launch: object) -> None:
    """Queue and launch `demo` on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (127.0.0.1:7860 by default)."""
    # Gradio rebuilds its request statistics (a pandas table of up to 10,000 past events) after
    # every event; under a class's load that cost more than the models.
    os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000")
    os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
    # One run of each handler at a time: while a batch runs, the next students' inputs gather into
    # the next batch. At 30 users: 18.8 -> 21.5 requests/s, p95 1.25 -> 0.73 s, against 4 at a time.
    demo.queue(default_concurrency_limit=1)
    set_queue_poll(demo, QUEUE_POLL)
    try:
        demo.launch(
            server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
            server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
            max_file_size=MAX_UPLOAD,
            show_error=True,
            footer_links=["api"],
            **launch,
        )
    except (OSError, ValueError) as err:  # port taken, bad port number
        sys.exit(f"error: cannot start the server: {err}")


def set_queue_poll(demo: gr.Blocks, seconds: float) -> bool:
    """The queue wakes to look for waiting events every 1 ms, even with nobody there: 7% of a core
    on an idle server, 3% at 5 ms, which cost each request 2.5 ms on average. A private attribute
    (tests/test_serving.py checks this Gradio has it); returns whether it was set."""
    if not hasattr(demo._queue, "sleep_when_free"):
        return False
    demo._queue.sleep_when_free = seconds
    return True
