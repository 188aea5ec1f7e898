from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.esim_status import EsimStatus

if TYPE_CHECKING:
    from ..models.refund import Refund


T = TypeVar("T", bound="Cancellation")


@_attrs_define
class Cancellation:
    """The answer to `POST /v1/esim/{esimId}/cancel`.

    Attributes:
        esim_id (UUID): The eSIM. Example: 9c9b5647-05fa-403c-99e2-26f0be9cb0dd.
        status (EsimStatus): Lifecycle of an eSIM as partners see it.
        refund (Refund): A refund, as a cancellation answers it.
        balance (float): US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative for
            debits in the ledger. Example: 7.5.
    """

    esim_id: UUID
    status: EsimStatus
    refund: Refund
    balance: float
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        esim_id = str(self.esim_id)

        status = self.status.value

        refund = self.refund.to_dict()

        balance = self.balance

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "esimId": esim_id,
                "status": status,
                "refund": refund,
                "balance": balance,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.refund import Refund  # noqa: PLC0415

        d = dict(src_dict)
        esim_id = UUID(d.pop("esimId"))

        status = EsimStatus(d.pop("status"))

        refund = Refund.from_dict(d.pop("refund"))

        balance = d.pop("balance")

        cancellation = cls(
            esim_id=esim_id,
            status=status,
            refund=refund,
            balance=balance,
        )

        cancellation.additional_properties = d
        return cancellation

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
