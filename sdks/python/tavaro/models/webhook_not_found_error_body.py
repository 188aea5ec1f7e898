from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.webhook_not_found_error_body_code import WebhookNotFoundErrorBodyCode

T = TypeVar("T", bound="WebhookNotFoundErrorBody")


@_attrs_define
class WebhookNotFoundErrorBody:
    """The `error` object of a 404 answer: `code` to branch on, `message` for humans.

    Attributes:
        code (WebhookNotFoundErrorBodyCode): Stable snake_case code to branch on.
        message (str): For humans; may change at any time.
    """

    code: WebhookNotFoundErrorBodyCode
    message: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code.value

        message = self.message

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "code": code,
                "message": message,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        code = WebhookNotFoundErrorBodyCode(d.pop("code"))

        message = d.pop("message")

        webhook_not_found_error_body = cls(
            code=code,
            message=message,
        )

        webhook_not_found_error_body.additional_properties = d
        return webhook_not_found_error_body

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
