"""relpredict: predictive queries over related tables."""

__version__ = "0.1.0"
