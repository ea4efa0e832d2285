"""Response validation: the policy, in a fixed order, over the verified tree only."""

from fedlib.validation.pipeline import validate_response

__all__ = ["validate_response"]
