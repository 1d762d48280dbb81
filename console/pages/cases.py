"""Console pages: cases and safety plans (the routers of the `cases_*` modules, gathered).

Each page module keeps its routes on its own `Router(prefix=PREFIX)`; this module's `router`
only gathers them, so that the console registers one router for the cases desk.
"""

from console.pages import cases_card, cases_desk, cases_edit, cases_list, cases_plan
from core.routing import Router

router = Router(include_in_schema=False)
for module in (cases_list, cases_card, cases_edit, cases_plan, cases_desk):
    router.include_router(module.router)
