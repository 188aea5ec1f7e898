from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define

T = TypeVar("T", bound="SandboxBalance")


@_attrs_define
class SandboxBalance:
    """The sandbox balance to set.

    Example:
        {'balance': 250}

    Attributes:
        balance (float): US dollars, 0 to 1,000,000, at most two decimals. Example: 250.
    """

    balance: float

    def to_dict(self) -> dict[str, Any]:
        balance = self.balance

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "balance": balance,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        balance = d.pop("balance")

        sandbox_balance = cls(
            balance=balance,
        )

        return sandbox_balance
