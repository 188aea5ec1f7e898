from enum import StrEnum


class TransactionKind(StrEnum):
    ADJUSTMENT = "adjustment"
    ORDER_DEBIT = "order_debit"
    REFUND = "refund"
    TOPUP = "topup"

    def __str__(self) -> str:
        return str(self.value)
