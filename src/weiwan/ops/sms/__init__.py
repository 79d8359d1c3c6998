"""SMS (短信): templates with variables, sending through the contact policy, the gateway, the
outbox, dispatch and delivery receipts."""
