"""Champion–challenger (策略对比): the strategy arms' evaluation as published, and promoting a
challenger to champion."""
