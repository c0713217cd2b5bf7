"""Fixtures shared by every test module."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from lmrec.testing import shared_data_dir

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Tests never read or write the user's embedding cache; each test process gets a fresh one.
os.environ["LMREC_CACHE_DIR"] = tempfile.mkdtemp(prefix="lmrec-test-cache-")

settings.register_profile(
    "lmrec", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.load_profile("lmrec")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets folder; skips the test when it is absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real datasets not found at {path} (set LMREC_SHARED_DATA to run this test)")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a reachable PostgreSQL server; skips the test when none answers."""
    import sqlalchemy as sa

    url = os.environ.get("LMREC_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@localhost/test")
    try:
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means: no server here
        pytest.skip(f"no PostgreSQL server reachable at {url}: {type(exc).__name__}: {exc}")
    return url
