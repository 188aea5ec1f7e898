from enum import StrEnum


class OrderNotFoundErrorBodyCode(StrEnum):
    ORDER_NOT_FOUND = "order_not_found"

    def __str__(self) -> str:
        return str(self.value)
