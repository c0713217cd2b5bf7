"""Column names of every table lmrec passes around; use these, never string literals."""

from __future__ import annotations


class Columns:
    """Names of DataFrame columns and store fields."""

    # external ids
    User = "user_id"
    Item = "item_id"
    Event = "event_id"
    # contiguous integer positions in a Vocabulary
    UserIdx = "user_idx"
    ItemIdx = "item_idx"
    # events
    Type = "type"
    Value = "value"
    Timestamp = "timestamp"
    Context = "context"
    Weight = "weight"
    # items
    Title = "title"
    Description = "description"
    Category = "category"
    Brand = "brand"
    Tags = "tags"
    Price = "price"
    Attributes = "attributes"
    CreatedAt = "created_at"
    Available = "available"
    # results
    Score = "score"
    Rank = "rank"
    Source = "source"
    Uncertainty = "uncertainty"
    Cold = "cold"
    Propensity = "propensity"
    Explored = "explored"
    Policy = "policy"
    Reason = "reason"
    Because = "because"


EVENT_COLUMNS: tuple[str, ...] = (
    Columns.Event,
    Columns.User,
    Columns.Item,
    Columns.Type,
    Columns.Value,
    Columns.Timestamp,
    Columns.Context,
)
ITEM_COLUMNS: tuple[str, ...] = (
    Columns.Item,
    Columns.Title,
    Columns.Description,
    Columns.Category,
    Columns.Brand,
    Columns.Tags,
    Columns.Price,
    Columns.Attributes,
    Columns.CreatedAt,
    Columns.Available,
)
USER_COLUMNS: tuple[str, ...] = (Columns.User, Columns.Attributes, Columns.CreatedAt)
