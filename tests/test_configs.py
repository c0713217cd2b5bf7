"""validated_config: each kind of invalid config gives one message naming the field and the value."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from lmrec.configs import validated_config
from lmrec.diagnostics import ConfigError
from lmrec.models.sequential.model import SASRecConfig
from lmrec.simulation.worlds import SemiSyntheticConfig


@pytest.mark.parametrize(
    ("cls", "what", "given", "message"),
    [
        (SASRecConfig, "sasrec", {"dim": 2}, "invalid sasrec config: dim: Input should be greater than or equal to 8"),
        (SASRecConfig, "sasrec", {"dim": 64, "heads": 3}, "invalid sasrec config: heads: must divide dim (64) so"),
        (SASRecConfig, "sasrec", {"dim": 4, "heads": 3}, "invalid sasrec config: dim: "),  # dim's own error only
        (SASRecConfig, "sasrec", {"dimm": 64}, "invalid sasrec config: dimm: Extra inputs are not permitted (got 64)"),
        (
            SemiSyntheticConfig,
            "world",
            {"release_start": 0.6, "release_end": 0.2},
            "invalid world config: release_end (0.2) must be >= release_start (0.6)",  # across fields: no 'got'
        ),
        (SASRecConfig, "sasrec", [("dim", 64)], "sasrec takes a SASRecConfig or a dict, not list"),
        (SASRecConfig, "sasrec", SemiSyntheticConfig(), "sasrec takes a SASRecConfig, not SemiSyntheticConfig"),
    ],
)
def test_invalid_configs_name_the_field_and_value(cls: type[BaseModel], what: str, given: Any, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        validated_config(cls, given, what)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "Value error" not in str(caught.value)


def test_a_valid_dict_instance_or_none_gives_the_config() -> None:
    config = SASRecConfig(dim=32, heads=4)
    assert validated_config(SASRecConfig, config, "sasrec") is config
    assert validated_config(SASRecConfig, {"dim": 32, "heads": 4}, "sasrec") == config
    assert validated_config(SASRecConfig, None, "sasrec") == SASRecConfig()
