"""Cases and safety plans: one module per section (cases, records, plans, sharing, sweep)."""

from safety_plans.service import cases, plans, records, sharing, sweep

__all__ = ["cases", "plans", "records", "sharing", "sweep"]
