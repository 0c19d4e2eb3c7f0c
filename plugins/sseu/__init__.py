"""The SSEU-Bench pytest plugin: benchmark cases as test items, records into reports.

`plugin.py` holds the hooks; options, items, the xdist scheduler and the
controller's collection of records live beside it, one job per module.
"""
