from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..errors import ErrorResponse
from ..models.error_status import ErrorStatus

if TYPE_CHECKING:
    from ..models.webhook_not_found_error_body import WebhookNotFoundErrorBody


T = TypeVar("T", bound="WebhookNotFoundError")


@_attrs_define
class WebhookNotFoundError(ErrorResponse):
    """`{"status":"error","error":{...},"requestId":"..."}`: `not_found`

    Attributes:
        status (ErrorStatus): Always `error` on an error answer.
        error (WebhookNotFoundErrorBody): The `error` object of a 404 answer: `code` to branch on, `message` for humans.
        request_id (None | str): The request's `X-Request-Id`, to quote when asking for support.
    """

    status: ErrorStatus
    error: WebhookNotFoundErrorBody
    request_id: None | str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        status = self.status.value

        error = self.error.to_dict()

        request_id: None | str
        request_id = self.request_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "status": status,
                "error": error,
                "requestId": request_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.webhook_not_found_error_body import WebhookNotFoundErrorBody  # noqa: PLC0415

        d = dict(src_dict)
        status = ErrorStatus(d.pop("status"))

        error = WebhookNotFoundErrorBody.from_dict(d.pop("error"))

        def _parse_request_id(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        request_id = _parse_request_id(d.pop("requestId"))

        webhook_not_found_error = cls(
            status=status,
            error=error,
            request_id=request_id,
        )

        webhook_not_found_error.additional_properties = d
        return webhook_not_found_error

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
