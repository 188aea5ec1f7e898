from enum import StrEnum


class Geography(StrEnum):
    GLOBAL = "global"
    LOCAL = "local"
    REGIONAL = "regional"

    def __str__(self) -> str:
        return str(self.value)
