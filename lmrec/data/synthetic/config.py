"""`ShopConfig`: the size, horizon and behaviour of the synthetic shop."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from lmrec.data.synthetic.words import CATEGORY_BANKS

#: 2024-01-01 00:00:00 UTC in unix seconds: the default start of the shop's horizon.
DEFAULT_START = 1_704_067_200.0


class ShopConfig(BaseModel):
    """Settings of the synthetic shop; the same config (and seed) always gives the same shop."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    seed: int = Field(default=0, ge=0)
    """Seed of every random choice; catalogue, users and sessions draw from separate streams of it."""

    n_users: int = Field(default=2_000, ge=10, le=5_000_000)
    """Number of registered users (each has at least one session)."""

    n_items: int = Field(default=1_500, ge=10, le=5_000_000)
    """Number of products in the catalogue by the end of the horizon."""

    n_categories: int = Field(default=len(CATEGORY_BANKS), ge=1, le=len(CATEGORY_BANKS))
    """Number of leaf categories sold, taken in order from `words.CATEGORY_BANKS`."""

    brands_per_department: int = Field(default=8, ge=1, le=200)
    """Brands selling in each department (`Home`, `Electronics`, ...)."""

    days: float = Field(default=90.0, gt=0, le=3_650)
    """Length of the horizon over which sessions happen, in days."""

    start: float = Field(default=DEFAULT_START, ge=0)
    """Start of the horizon, unix seconds (default 2024-01-01 UTC)."""

    latent_dim: int = Field(default=16, ge=2, le=512)
    """Dimension of the hidden user taste and item factor vectors."""

    sessions_per_user_mean: float = Field(default=8.0, ge=1.0)
    """Mean number of sessions a user has over the horizon (at least one each)."""

    sessions_per_user_dispersion: float = Field(default=1.2, gt=0)
    """Shape of the negative-binomial session count; smaller gives a few very active users and
    many occasional ones."""

    views_per_session_mean: float = Field(default=4.0, ge=1.0, le=50.0)
    """Mean number of product views in a session (geometric, at least one)."""

    stay_in_category: float = Field(default=0.7, ge=0.0, le=1.0)
    """Probability that the next view of a session stays in the current category."""

    revisit_rate: float = Field(default=0.4, ge=0.0, le=1.0)
    """Probability that a session opens by viewing a product left in the basket earlier."""

    popularity_exponent: float = Field(default=1.1, gt=0.2, le=10.0)
    """Pareto shape of item exposure (how often the shop shows an item); smaller gives a longer tail."""

    initial_item_fraction: float = Field(default=0.7, ge=0.0, le=1.0)
    """Share of the catalogue already on sale when the horizon starts; the rest arrives evenly
    over the horizon."""

    initial_user_fraction: float = Field(default=0.6, ge=0.0, le=1.0)
    """Share of users registered before the horizon starts; the rest sign up during it."""

    new_item_boost: float = Field(default=2.0, ge=0.0)
    """Extra exposure of a product just launched (the new-arrivals page), decaying over `new_item_days`."""

    new_item_days: float = Field(default=7.0, gt=0)
    """Time scale, in days, of the new-arrival exposure boost."""

    out_of_stock_rate: float = Field(default=0.03, ge=0.0, le=1.0)
    """Share of products out of stock at the end of the horizon (`available` is false)."""

    click_bias: float = -3.0
    """Intercept of the click logit: a product of average utility shown at the top is clicked
    with probability about sigmoid(click_bias)."""

    cart_bias: float = -5.0
    """Intercept of the logit that a view leads to a basket add."""

    purchase_bias: float = -1.5
    """Intercept of the logit that a basket add is bought at checkout."""

    position_bias: float = Field(default=1.0, ge=0.0)
    """Exponent eta of the examination probability 1 / (1 + position) ** eta (position 0 is the top)."""

    @model_validator(mode="after")
    def _check_horizon(self) -> ShopConfig:
        end = self.start + self.days * 86_400.0
        if end > 7_258_118_400.0:
            raise ValueError(f"start + days ends after the year 2200 (end {end:.0f} unix seconds)")
        return self

    @property
    def end(self) -> float:
        """End of the horizon, unix seconds."""
        return self.start + self.days * 86_400.0
