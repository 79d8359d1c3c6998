"""Personal data of one subscriber: the report, erasure and the retention purge (PIPL)."""
