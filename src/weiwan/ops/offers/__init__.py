"""The published policy library (retention offers) as the operational side sees it."""
