from enum import StrEnum


class EsimNotCancellableErrorBodyCode(StrEnum):
    ESIM_NOT_CANCELLABLE = "esim_not_cancellable"

    def __str__(self) -> str:
        return str(self.value)
