"""perfops: performance operations for a service domain."""

__version__ = "0.1.0"
