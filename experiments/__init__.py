"""The experiments of section 1.6: data, the training loop, evaluation, figures and the report."""
