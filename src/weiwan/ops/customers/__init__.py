"""What the daily pipeline publishes about customers: the customer view and the day's decisions."""
