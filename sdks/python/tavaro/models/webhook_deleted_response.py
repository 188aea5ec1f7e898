from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.success_status import SuccessStatus

if TYPE_CHECKING:
    from ..models.webhook_deleted import WebhookDeleted


T = TypeVar("T", bound="WebhookDeletedResponse")


@_attrs_define
class WebhookDeletedResponse:
    """A `WebhookDeleted`: `{"status":"success","data":{...}}`.

    Attributes:
        status (SuccessStatus): Always `success` on a 2xx answer.
        data (WebhookDeleted): The answer to a deletion.
    """

    status: SuccessStatus
    data: WebhookDeleted
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        status = self.status.value

        data = self.data.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "status": status,
                "data": data,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.webhook_deleted import WebhookDeleted  # noqa: PLC0415

        d = dict(src_dict)
        status = SuccessStatus(d.pop("status"))

        data = WebhookDeleted.from_dict(d.pop("data"))

        webhook_deleted_response = cls(
            status=status,
            data=data,
        )

        webhook_deleted_response.additional_properties = d
        return webhook_deleted_response

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
