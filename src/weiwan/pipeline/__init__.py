"""The daily run: calls analytics in order (``run``, ``steps``). Its only bridges to the
operational database are ``publish`` (results out) and ``collect`` (operational records back
into the warehouse); no other module here imports ``weiwan.ops`` (tests/test_layers.py)."""
