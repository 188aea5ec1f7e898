from enum import StrEnum


class EventType(StrEnum):
    BALANCE_LOW = "balance.low"
    ESIM_ACTIVATED = "esim.activated"
    ESIM_CANCELLED = "esim.cancelled"
    ESIM_DEPLETED = "esim.depleted"
    ESIM_EXPIRED = "esim.expired"
    ESIM_EXPIRING = "esim.expiring"
    ESIM_LOW_DATA = "esim.low_data"
    ORDER_COMPLETED = "order.completed"
    ORDER_FAILED = "order.failed"
    REFUND_COMPLETED = "refund.completed"
    REFUND_REJECTED = "refund.rejected"
    TOPUP_COMPLETED = "topup.completed"
    TOPUP_FAILED = "topup.failed"
    WEBHOOK_TEST = "webhook.test"

    def __str__(self) -> str:
        return str(self.value)
