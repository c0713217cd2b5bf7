"""Turning what a user passes as a component's config (an object, a dict or None) into a valid one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from lmrec.diagnostics import ConfigError

M = TypeVar("M", bound=BaseModel)


def validated_config(
    cls: type[M], config: BaseModel | Mapping[str, Any] | None, what: str, *, exact: bool = False
) -> M:
    """`config` as a validated `cls`: an instance is kept, a dict validated, None gives the defaults.

    Args:
        cls: the config class.
        config: what was given.
        what: the component's name, for the message.
        exact: refuse instances of subclasses too (a subclass may carry settings this component
            would silently ignore).

    Raises:
        ConfigError: another config class, or the first invalid field with its value.
    """
    if type(config) is cls or (not exact and isinstance(config, cls)):
        return config  # type: ignore[return-value]
    if isinstance(config, BaseModel):
        raise ConfigError(f"{what} takes a {cls.__name__}, not {type(config).__name__}")
    if config is not None and not isinstance(config, Mapping):
        raise ConfigError(f"{what} takes a {cls.__name__} or a dict, not {type(config).__name__}")
    try:
        return cls.model_validate(dict(config or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        message = err["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's own ValueError
        if not err["loc"]:  # a check across fields: its message names them and their values
            raise ConfigError(f"invalid {what} config: {message}") from exc
        where = ".".join(str(p) for p in err["loc"])
        raise ConfigError(f"invalid {what} config: {where}: {message} (got {err.get('input')!r})") from exc
