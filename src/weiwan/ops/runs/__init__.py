"""The daily run's history (``weiwan daily``): each run, its steps, warnings and error."""
