"""Campaigns (四步一库): plan, rehearse, approve level by level, run, evaluate, plan library."""
