"""The safety-plans domain's tables and bodies (see each module)."""

from safety_plans.models.bodies import *  # noqa: F403
from safety_plans.models.cases import *  # noqa: F403
from safety_plans.models.plans import *  # noqa: F403
from safety_plans.models.sharing import *  # noqa: F403
