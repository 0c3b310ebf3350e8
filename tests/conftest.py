"""Hypothesis runs derandomized everywhere, so that a test run is a function of the code alone."""
from hypothesis import settings

settings.register_profile("helmholtz", derandomize=True, deadline=None, print_blob=True)
settings.load_profile("helmholtz")
