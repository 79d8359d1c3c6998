"""The demo and the simulator-driven checks, at the command-line layer.

`seed` simulates an operator, runs the daily pipeline and publishes it with one login per role
(`people`, `activity` and `management` play the staff's day); `strategy_check` compares the
decision strategies on the simulator. Like the CLI, this package may import every other one.
"""
