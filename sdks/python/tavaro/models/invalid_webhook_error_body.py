from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.invalid_webhook_error_body_code import InvalidWebhookErrorBodyCode

if TYPE_CHECKING:
    from ..models.invalid_webhook_error_details import InvalidWebhookErrorDetails


T = TypeVar("T", bound="InvalidWebhookErrorBody")


@_attrs_define
class InvalidWebhookErrorBody:
    """The `error` object of a 400 answer: `code` to branch on, `message` for humans.

    Attributes:
        code (InvalidWebhookErrorBodyCode): Stable snake_case code to branch on.
        message (str): For humans; may change at any time.
        details (InvalidWebhookErrorDetails):
    """

    code: InvalidWebhookErrorBodyCode
    message: str
    details: InvalidWebhookErrorDetails
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code.value

        message = self.message

        details = self.details.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "message": message,
                "details": details,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.invalid_webhook_error_details import InvalidWebhookErrorDetails  # noqa: PLC0415

        d = dict(src_dict)
        code = InvalidWebhookErrorBodyCode(d.pop("code"))

        message = d.pop("message")

        details = InvalidWebhookErrorDetails.from_dict(d.pop("details"))

        invalid_webhook_error_body = cls(
            code=code,
            message=message,
            details=details,
        )

        invalid_webhook_error_body.additional_properties = d
        return invalid_webhook_error_body

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
