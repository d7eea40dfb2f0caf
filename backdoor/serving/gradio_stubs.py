"""Import this before gradio: it stops Gradio rewriting its type stubs, about 2 s of every start-up.

On every import, Gradio regenerates the .pyi stub of each of its ~80 component classes (and
of app.py's): it reads and parses each class's source file with `ast` and writes the stub
beside it. The wheel already ships those stubs and only type checkers read them, yet it was
40% of `import gradio` here (5.1 -> 3.0 s). This module has Python load
gradio.component_meta as usual, then swaps its stub writer for a no-op. Nothing else changes;
under a Gradio that renamed the function, it does nothing.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

MODULE = "gradio.component_meta"
STUB_WRITER = "create_or_modify_pyi"


class _WithoutStubWriter(importlib.abc.MetaPathFinder):
    """Finds gradio.component_meta the usual way and wraps its loader; then steps aside."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if name != MODULE:
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module

            def load_without_stub_writer(module: ModuleType) -> None:
                load(module)
                if hasattr(module, STUB_WRITER):
                    setattr(module, STUB_WRITER, lambda *args, **kwargs: None)

            spec.loader.exec_module = load_without_stub_writer
        return spec


if MODULE not in sys.modules:
    sys.meta_path.insert(0, _WithoutStubWriter())
