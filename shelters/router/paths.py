"""The shelters' route paths."""

ORG = "/organisations/{org_id}/shelters"
SHELTER = ORG + "/{shelter_id}"
STAY = SHELTER + "/stays/{stay_id}"
