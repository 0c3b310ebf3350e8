"""Data sources beside MNIST, one file each, named in experiments/data/__init__.py::SOURCES."""
