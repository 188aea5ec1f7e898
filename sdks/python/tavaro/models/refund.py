from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.currency import Currency
from ..models.refund_state import RefundState

T = TypeVar("T", bound="Refund")


@_attrs_define
class Refund:
    """A refund, as a cancellation answers it.

    Attributes:
        amount (float): US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative for
            debits in the ledger. Example: 7.5.
        currency (Currency): Every amount is in US dollars.
        status (RefundState): Where a refund stands.
    """

    amount: float
    currency: Currency
    status: RefundState
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        amount = self.amount

        currency = self.currency.value

        status = self.status.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "amount": amount,
                "currency": currency,
                "status": status,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        amount = d.pop("amount")

        currency = Currency(d.pop("currency"))

        status = RefundState(d.pop("status"))

        refund = cls(
            amount=amount,
            currency=currency,
            status=status,
        )

        refund.additional_properties = d
        return refund

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
