"""Cases and Individual Safety Plans: the counselling service's own record of a client, her risk
assessments, her safety plan and the victim assistance plan, readable only by her case team."""
