"""Tasks across channels: creation from decisions and campaigns, assignment, transfer, queues."""
