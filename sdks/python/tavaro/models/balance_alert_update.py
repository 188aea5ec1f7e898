from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="BalanceAlertUpdate")


@_attrs_define
class BalanceAlertUpdate:
    """The low-balance alert to set.

    Example:
        {'threshold': 100}

    Attributes:
        threshold (float): US dollars, 0 to 1,000,000, at most two decimals; 0 turns the alert off. Example: 100.
    """

    threshold: float

    def to_dict(self) -> dict[str, Any]:
        threshold = self.threshold

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "threshold": threshold,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        threshold = d.pop("threshold")

        balance_alert_update = cls(
            threshold=threshold,
        )

        return balance_alert_update
