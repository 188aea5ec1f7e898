from enum import StrEnum


class PlanNotFoundErrorBodyCode(StrEnum):
    PLAN_NOT_FOUND = "plan_not_found"

    def __str__(self) -> str:
        return str(self.value)
