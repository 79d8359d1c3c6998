"""Real-time events (实时事件): intake from the operator's systems with service tokens, their
status, and the dead letters of refused ones."""
