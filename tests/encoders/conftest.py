"""Fixtures of the encoder tests: the real language model, loaded once per test session."""

from __future__ import annotations

import pytest

from lmrec.encoders.text import EncoderConfig, TextEncoder


@pytest.fixture(scope="session")
def text_encoder() -> TextEncoder:
    """The bundled all-MiniLM-L6-v2 on CPU, loaded once (the loaded network is shared per process)."""
    encoder = TextEncoder(EncoderConfig(device="cpu", batch_size=32))
    encoder.model()
    return encoder
