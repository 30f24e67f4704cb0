"""One module an algorithm (or a few related ones).

The provider discovers every module in this package and registers the classes listed in its
module-level ``ALGORITHMS`` list, so adding an algorithm never needs an edit elsewhere.
"""
