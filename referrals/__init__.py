"""Referrals: the CSW directory, referrals to CSWs and partner services, and their deadlines."""
