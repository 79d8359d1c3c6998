"""SQL files of the customer card."""
