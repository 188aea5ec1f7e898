from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="TopupRequest")


@_attrs_define
class TopupRequest:
    """A top-up: which plan, and optionally your booking reference. Unknown fields are
    refused (400).

        Example:
            {'planId': 'ae-1gb-7d', 'reference': 'BK-12345-topup-1'}

        Attributes:
            plan_id (str): A `planId` from `GET /v1/esim/{esimId}/topups`. Example: ae-1gb-7d.
            reference (None | str | Unset): Your booking reference, to find the top-up again (`GET /v1/orders?reference=`).
                Example: BK-12345-topup-1.
    """

    plan_id: str
    reference: None | str | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        plan_id = self.plan_id

        reference: None | str | Unset
        if isinstance(self.reference, Unset):
            reference = UNSET
        else:
            reference = self.reference

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "planId": plan_id,
            }
        )
        if reference is not UNSET:
            field_dict["reference"] = reference

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        plan_id = d.pop("planId")

        def _parse_reference(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        reference = _parse_reference(d.pop("reference", UNSET))

        topup_request = cls(
            plan_id=plan_id,
            reference=reference,
        )

        return topup_request
