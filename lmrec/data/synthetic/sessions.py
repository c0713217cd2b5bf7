"""Sessions of the synthetic shop: views drawn by exposure and taste, then basket adds and checkout.

A session starts at a time of day drawn from an evening-heavy profile. It may open on a product
left in the basket in an earlier session; otherwise the user picks a category by affinity and
views products there, each view staying in the category, moving to a related category (same
department) or jumping to another favourite. Within a category a product is viewed with
probability proportional to `exposure * click_probability * new-arrival boost` (drawn without
replacement), so logged views are what the shop showed times what the user clicked. Each view
becomes a basket add with the true cart probability, and at checkout each basket item is bought
with the true checkout probability; the rest stay in the basket for a later session.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lmrec.data.columns import EVENT_COLUMNS, Columns
from lmrec.data.synthetic.catalogue import DAY, Catalogue
from lmrec.data.synthetic.config import ShopConfig
from lmrec.data.synthetic.population import DEVICES, Population
from lmrec.data.synthetic.truth import ShopTruth

TYPES = ("view", "cart", "purchase")
VIEW, CART, PURCHASE = range(3)
PAGES = ("home", "search", "category", "product", "new-arrivals", "basket", "checkout")
HOME, SEARCH, CATEGORY, PRODUCT, NEW, BASKET, CHECKOUT = range(7)
#: Relative share of sessions starting in each hour of the day (UTC), evenings busiest.
HOUR_WEIGHTS = np.array([2, 1, 1, 1, 1, 1, 2, 4, 6, 6, 6, 7, 8, 7, 6, 6, 7, 8, 10, 12, 12, 10, 7, 4], dtype=float)
MAX_VIEWS = 30
MAX_BASKET = 10
#: Users whose probabilities are computed in one (users x items) block.
USER_CHUNK = 128


@dataclass
class _Log:
    """Events as they are recorded, one list per column."""

    user: list[int] = field(default_factory=list)
    item: list[int] = field(default_factory=list)
    type: list[int] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    session: list[int] = field(default_factory=list)
    page: list[int] = field(default_factory=list)
    device: list[int] = field(default_factory=list)

    def add(self, user: int, item: int, kind: int, time: float, session: int, page: int, device: int) -> None:
        self.user.append(user)
        self.item.append(item)
        self.type.append(kind)
        self.time.append(round(time))
        self.session.append(session)
        self.page.append(page)
        self.device.append(device)


@dataclass(frozen=True)
class _UserView:
    """One user's probabilities over the catalogue, shape (I,) each."""

    log_click: np.ndarray
    cart: np.ndarray
    checkout: np.ndarray


class SessionSimulator:
    """Plays every user's sessions over the horizon and returns the event table.

    Args:
        config: the shop's settings.
        catalogue: the products (positions ascending in launch time).
        population: the users.
        truth: the hidden truth whose probabilities drive every choice.
        rng: the random stream of the sessions.
    """

    def __init__(
        self,
        config: ShopConfig,
        catalogue: Catalogue,
        population: Population,
        truth: ShopTruth,
        rng: np.random.Generator,
    ) -> None:
        self.config = config
        self.catalogue = catalogue
        self.population = population
        self.truth = truth
        self.rng = rng

    def run(self) -> pd.DataFrame:
        """Simulate every session; events sorted by time, columns `EVENT_COLUMNS`."""
        cat = self.catalogue
        n_categories = len(cat.categories)
        self._items_of = [np.flatnonzero(cat.category == c) for c in range(n_categories)]
        self._created_of = [cat.created_at[items] for items in self._items_of]
        self._log_exposure = np.log(cat.exposure)
        affinity = self.population.affinity
        self._category_weight = np.exp(affinity - affinity.max(axis=1, keepdims=True))  # (U, C)
        self._related = [np.flatnonzero(cat.category_department == d) for d in cat.category_department]
        self._log = _Log()
        self._sessions = 0
        n_users = len(self.population.users)
        all_items = np.arange(len(cat.items))
        for first in range(0, n_users, USER_CHUNK):
            users = np.arange(first, min(first + USER_CHUNK, n_users))
            click, cart, checkout = self.truth.funnel(users[:, None], all_items[None, :])  # (B, I) each
            log_click = np.log(click)
            for row, user in enumerate(users):
                self._user(int(user), _UserView(log_click[row], cart[row], checkout[row]))
        return self._frame()

    # -- one user -------------------------------------------------------------------------------

    def _user(self, user: int, view: _UserView) -> None:
        config, rng = self.config, self.rng
        k = config.sessions_per_user_dispersion
        mean_extra = config.sessions_per_user_mean - 1.0
        n_sessions = 1 + (rng.negative_binomial(k, k / (k + mean_extra)) if mean_extra > 0 else 0)
        preferred = int(self.population.device[user])
        basket: list[int] = []
        last_end = -np.inf
        latest = config.end - 3_600.0
        for start in self._session_starts(user, int(n_sessions)):
            start = max(start, last_end + 300.0)  # one session at a time
            if start > latest:
                break
            device = preferred if rng.random() < 0.8 else int(rng.integers(len(DEVICES)))
            last_end = self._session(user, start, device, view, basket)
            self._sessions += 1

    def _session_starts(self, user: int, n: int) -> np.ndarray:
        config, rng = self.config, self.rng
        first = max(config.start, float(self.population.created_at[user]))
        latest = max(config.end - 3_600.0, first)
        uniform = rng.uniform(first, latest, n)
        hours = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
        timed = np.floor(uniform / DAY) * DAY + hours * 3_600.0 + rng.uniform(0.0, 3_600.0, n)
        inside = (timed >= first) & (timed <= latest)
        return np.sort(np.where(inside, timed, uniform))

    # -- one session ----------------------------------------------------------------------------

    def _session(self, user: int, start: float, device: int, view: _UserView, basket: list[int]) -> float:
        """Record one session's events; returns the time of its last event."""
        rng, log, sid = self.rng, self._log, self._sessions
        n_views = min(int(rng.geometric(1.0 / self.config.views_per_session_mean)), MAX_VIEWS)
        viewed: list[int] = []
        pages: list[int] = []
        revisit = bool(basket) and rng.random() < self.config.revisit_rate
        if revisit:
            viewed.append(basket.pop(int(rng.integers(len(basket)))))
            pages.append(BASKET)
        self._browse(user, start, n_views - len(viewed), view, viewed, pages)

        clock = start
        checkout_list = viewed[:1] if revisit else []
        for position, (item, page) in enumerate(zip(viewed, pages, strict=True)):
            log.add(user, item, VIEW, clock, sid, page, device)
            if not (revisit and position == 0) and rng.random() < view.cart[item]:
                clock += rng.uniform(5.0, 40.0)
                log.add(user, item, CART, clock, sid, PRODUCT, device)
                checkout_list.append(item)
            clock += 15.0 + rng.exponential(50.0)
        if checkout_list:
            clock += 30.0 + rng.exponential(60.0)
            for position, item in enumerate(checkout_list):
                if rng.random() < view.checkout[item]:
                    log.add(user, item, PURCHASE, clock, sid, CHECKOUT, device)
                    clock += 1.0
                elif not (revisit and position == 0):  # a second time abandoned: gone for good
                    basket.append(item)
            del basket[:-MAX_BASKET]
        return clock

    def _browse(self, user: int, start: float, n: int, view: _UserView, viewed: list[int], pages: list[int]) -> None:
        """Append `n` browsed items (and the page each was found on) to `viewed` and `pages`."""
        if n <= 0:
            return
        live = np.array([np.searchsorted(created, start, side="right") for created in self._created_of])
        weight = self._category_weight[user] * (live > 0)
        if weight.sum() <= 0:
            return
        path = self._category_path(weight, n)
        drawn = {
            c: self._draw(c, int(live[c]), int(np.sum(path == c)), start, view, viewed) for c in set(path.tolist())
        }
        previous = -1
        for c in path.tolist():
            if not drawn[c]:
                continue
            item = drawn[c].pop(0)
            viewed.append(item)
            pages.append(self._page(c, previous, item, start))
            previous = c

    def _category_path(self, weight: np.ndarray, n: int) -> np.ndarray:
        """The category of each of `n` views: stay, move to a related category, or jump."""
        rng = self.rng
        cdf = np.cumsum(weight)
        draws = rng.random(2 * n)
        path = np.empty(n, dtype=np.int64)
        path[0] = np.searchsorted(cdf, draws[0] * cdf[-1], side="right")
        stay = self.config.stay_in_category
        for k in range(1, n):
            current = path[k - 1]
            related = self._related[current]
            related = related[(weight[related] > 0) & (related != current)]
            if draws[2 * k - 1] < stay:
                path[k] = current
            elif draws[2 * k - 1] < stay + (1.0 - stay) / 2 and len(related):
                path[k] = related[int(draws[2 * k] * len(related))]
            else:
                path[k] = np.searchsorted(cdf, draws[2 * k] * cdf[-1], side="right")
        return np.minimum(path, len(weight) - 1)

    def _draw(self, category: int, live: int, k: int, start: float, view: _UserView, seen: list[int]) -> list[int]:
        """Up to `k` distinct items of `category` launched by `start`, drawn without replacement
        with probability proportional to exposure x click probability x new-arrival boost (Gumbel top-k)."""
        items = self._items_of[category][:live]
        age_days = (start - self._created_of[category][:live]) / DAY
        boost = np.log1p(self.config.new_item_boost * np.exp(-age_days / self.config.new_item_days))
        keys = self._log_exposure[items] + view.log_click[items] + boost + self.rng.gumbel(size=live)
        if seen:
            keys[np.isin(items, seen)] = -np.inf
        k = min(k, int(np.isfinite(keys).sum()))
        if k <= 0:
            return []
        top = np.argpartition(-keys, k - 1)[:k]
        top = top[np.argsort(-keys[top], kind="stable")]
        return [int(i) for i in items[top]]

    def _page(self, category: int, previous: int, item: int, start: float) -> int:
        """Where the user found the item: the first view from home, search or a category page (or
        new arrivals for a fresh product), later ones from a product page or by search."""
        rng = self.rng
        fresh = start - self.catalogue.created_at[item] < self.config.new_item_days * DAY
        if fresh and rng.random() < 0.5:
            return NEW
        if previous < 0:
            return (HOME, SEARCH, CATEGORY)[int(rng.choice(3, p=(0.3, 0.4, 0.3)))]
        if previous == category:
            return PRODUCT if rng.random() < 0.5 else CATEGORY
        return PRODUCT if rng.random() < 0.5 else SEARCH

    # -- output ---------------------------------------------------------------------------------

    def _frame(self) -> pd.DataFrame:
        log = self._log
        times = np.asarray(log.time, dtype=np.float64)
        order = np.argsort(times, kind="stable")  # within a session, recording order is time order
        user = np.asarray(log.user, dtype=np.int64)[order]
        item = np.asarray(log.item, dtype=np.int64)[order]
        kind = np.asarray(log.type, dtype=np.int64)[order]
        session = np.asarray(log.session, dtype=np.int64)[order]
        page = np.asarray(log.page, dtype=np.int64)[order]
        device = np.asarray(log.device, dtype=np.int64)[order]
        n = len(order)
        width = len(str(n))
        session_width = len(str(max(self._sessions, 1)))
        price = self.catalogue.items[Columns.Price].to_numpy(dtype=np.float64)
        user_ids = self.population.users[Columns.User].to_numpy(dtype=object)
        item_ids = self.catalogue.items[Columns.Item].to_numpy(dtype=object)
        context = [
            {"session": f"s{s:0{session_width}d}", "device": DEVICES[d], "page": PAGES[p]}
            for s, d, p in zip(session.tolist(), device.tolist(), page.tolist(), strict=True)
        ]
        frame = pd.DataFrame(
            {
                Columns.Event: [f"e{k:0{width}d}" for k in range(1, n + 1)],
                Columns.User: user_ids[user].astype(str),
                Columns.Item: item_ids[item].astype(str),
                Columns.Type: np.asarray(TYPES, dtype=object)[kind].astype(str),
                Columns.Value: np.where(kind == PURCHASE, price[item], np.nan),
                Columns.Timestamp: times[order],
                Columns.Context: pd.Series(context, dtype=object),
            }
        )
        return frame[list(EVENT_COLUMNS)]
