"""Serving the Lab to a class with Gradio: the worker process, Gradio glue and server settings.

Importing this package first keeps Gradio from rewriting its type stubs (see gradio_stubs).
"""

from backdoor.serving import gradio_stubs  # noqa: F401 - before anything imports gradio
