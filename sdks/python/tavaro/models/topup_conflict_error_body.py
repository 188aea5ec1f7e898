from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.topup_conflict_error_body_code import TopupConflictErrorBodyCode
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.topup_conflict_error_details import TopupConflictErrorDetails


T = TypeVar("T", bound="TopupConflictErrorBody")


@_attrs_define
class TopupConflictErrorBody:
    """The `error` object of a 409 answer: `code` to branch on, `message` for humans.

    Attributes:
        code (TopupConflictErrorBodyCode): Stable snake_case code to branch on.
        message (str): For humans; may change at any time.
        details (TopupConflictErrorDetails | Unset):
    """

    code: TopupConflictErrorBodyCode
    message: str
    details: TopupConflictErrorDetails | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code.value

        message = self.message

        details: dict[str, Any] | Unset = UNSET
        if not isinstance(self.details, Unset):
            details = self.details.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "message": message,
            }
        )
        if details is not UNSET:
            field_dict["details"] = details

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.topup_conflict_error_details import TopupConflictErrorDetails  # noqa: PLC0415

        d = dict(src_dict)
        code = TopupConflictErrorBodyCode(d.pop("code"))

        message = d.pop("message")

        _details = d.pop("details", UNSET)
        details: TopupConflictErrorDetails | Unset
        if isinstance(_details, Unset):
            details = UNSET
        else:
            details = TopupConflictErrorDetails.from_dict(_details)

        topup_conflict_error_body = cls(
            code=code,
            message=message,
            details=details,
        )

        topup_conflict_error_body.additional_properties = d
        return topup_conflict_error_body

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
