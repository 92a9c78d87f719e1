"""Helpers shared by the space and algorithm tests (no tests here)."""


class RecordingVals(dict):
    """``misc.vals`` that records which labels ``space_eval`` looks up, i.e. actually uses."""

    def __init__(self, vals):
        super().__init__(vals)
        self.used = set()

    def get(self, key, default=None):
        self.used.add(key)
        return super().get(key, default)
