"""Targets and appraisal (绩效考核): targets, weekly plans, daily checks, monthly scorecards."""
