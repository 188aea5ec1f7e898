from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, TypeVar, cast
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.transaction_kind import TransactionKind

T = TypeVar("T", bound="Transaction")


@_attrs_define
class Transaction:
    """One ledger entry: a movement of your credits.

    Attributes:
        id (str): Entry id. Example: 1042.
        kind (TransactionKind): Why an entry was written.
        amount (float): US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative for
            debits in the ledger. Example: 7.5.
        balance_after (float): US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative
            for debits in the ledger. Example: 7.5.
        order_id (None | UUID): The order it belongs to, for `order_debit` and `refund`; `null` otherwise. Example:
            914ce31d-f1b1-43a4-82d4-95f0b9622496.
        created_at (datetime.datetime): When it was written. Example: 2026-11-22T14:22:58Z.
    """

    id: str
    kind: TransactionKind
    amount: float
    balance_after: float
    order_id: None | UUID
    created_at: datetime.datetime
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        kind = self.kind.value

        amount = self.amount

        balance_after = self.balance_after

        order_id: None | str
        if isinstance(self.order_id, UUID):
            order_id = str(self.order_id)
        else:
            order_id = self.order_id

        created_at = self.created_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "id": id,
                "kind": kind,
                "amount": amount,
                "balanceAfter": balance_after,
                "orderId": order_id,
                "createdAt": created_at,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        kind = TransactionKind(d.pop("kind"))

        amount = d.pop("amount")

        balance_after = d.pop("balanceAfter")

        def _parse_order_id(data: object) -> None | UUID:
            if data is None:
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                order_id_type_0 = UUID(data)

                return order_id_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | UUID, data)

        order_id = _parse_order_id(d.pop("orderId"))

        created_at = datetime.datetime.fromisoformat(d.pop("createdAt"))

        transaction = cls(
            id=id,
            kind=kind,
            amount=amount,
            balance_after=balance_after,
            order_id=order_id,
            created_at=created_at,
        )

        transaction.additional_properties = d
        return transaction

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
