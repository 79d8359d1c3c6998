"""The daily hand-over: the published day given to the people (managers, return visits, tasks);
above tasks and surveys, imported by no domain."""
