from enum import StrEnum


class OrderEventType(StrEnum):
    ORDER_COMPLETED = "order.completed"
    ORDER_FAILED = "order.failed"
    TOPUP_COMPLETED = "topup.completed"
    TOPUP_FAILED = "topup.failed"

    def __str__(self) -> str:
        return str(self.value)
