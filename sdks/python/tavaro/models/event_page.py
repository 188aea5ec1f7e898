from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.success_status import SuccessStatus

if TYPE_CHECKING:
    from ..models.balance_event import BalanceEvent
    from ..models.esim_event import EsimEvent
    from ..models.order_event import OrderEvent
    from ..models.page_meta import PageMeta
    from ..models.webhook_test_event import WebhookTestEvent


T = TypeVar("T", bound="EventPage")


@_attrs_define
class EventPage:
    """One page of `Event` items, newest first: `{"status":"success","data":[...],"meta":{"nextCursor":...}}`.

    Attributes:
        status (SuccessStatus): Always `success` on a 2xx answer.
        data (list[BalanceEvent | EsimEvent | OrderEvent | WebhookTestEvent]):
        meta (PageMeta): Where the next page starts.
    """

    status: SuccessStatus
    data: list[BalanceEvent | EsimEvent | OrderEvent | WebhookTestEvent]
    meta: PageMeta
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.balance_event import BalanceEvent  # noqa: PLC0415
        from ..models.esim_event import EsimEvent  # noqa: PLC0415
        from ..models.order_event import OrderEvent  # noqa: PLC0415

        status = self.status.value

        data = []
        for data_item_data in self.data:
            data_item: dict[str, Any]
            if isinstance(data_item_data, OrderEvent):
                data_item = data_item_data.to_dict()
            elif isinstance(data_item_data, EsimEvent):
                data_item = data_item_data.to_dict()
            elif isinstance(data_item_data, BalanceEvent):
                data_item = data_item_data.to_dict()
            else:
                data_item = data_item_data.to_dict()

            data.append(data_item)

        meta = self.meta.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "status": status,
                "data": data,
                "meta": meta,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.balance_event import BalanceEvent  # noqa: PLC0415
        from ..models.esim_event import EsimEvent  # noqa: PLC0415
        from ..models.order_event import OrderEvent  # noqa: PLC0415
        from ..models.page_meta import PageMeta  # noqa: PLC0415
        from ..models.webhook_test_event import WebhookTestEvent  # noqa: PLC0415

        d = dict(src_dict)
        status = SuccessStatus(d.pop("status"))

        data = []
        _data = d.pop("data")
        for data_item_data in _data:

            def _parse_data_item(data: object) -> BalanceEvent | EsimEvent | OrderEvent | WebhookTestEvent:
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    componentsschemas_event_type_0 = OrderEvent.from_dict(data)

                    return componentsschemas_event_type_0
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    componentsschemas_event_type_1 = EsimEvent.from_dict(data)

                    return componentsschemas_event_type_1
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    componentsschemas_event_type_2 = BalanceEvent.from_dict(data)

                    return componentsschemas_event_type_2
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                if not isinstance(data, dict):
                    raise TypeError()
                componentsschemas_event_type_3 = WebhookTestEvent.from_dict(data)

                return componentsschemas_event_type_3

            data_item = _parse_data_item(data_item_data)

            data.append(data_item)

        meta = PageMeta.from_dict(d.pop("meta"))

        event_page = cls(
            status=status,
            data=data,
            meta=meta,
        )

        event_page.additional_properties = d
        return event_page

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
