"""SQL files of the customers domain."""
