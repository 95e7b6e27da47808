"""Public feedback given by the party that ends a contract: stars and a comment.

The Job Success Score reads it from the contract's ``Ended`` event. It is
checked once, when given (``given`` / ``comment_only``); events store it as two
plain fields (``feedback``, the comment, as before ratings existed, and
``feedback_rating``) and rebuild it without re-checking, so a replay never
re-runs a rule written after the fact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from domain.errors import InvalidFeedback

MIN_RATING = 1
MAX_RATING = 5
MAX_COMMENT = 2000


@dataclass(frozen=True)
class Feedback:
    rating: int | None
    """1-5 stars; None only for a bare comment (the form before ratings)."""
    comment: str | None

    @classmethod
    def given(cls, rating: object, comment: object = None) -> Feedback:
        """Feedback as the ending party gives it: a whole rating 1-5 and an optional comment."""
        if isinstance(rating, bool) or not isinstance(rating, int) \
                or not MIN_RATING <= rating <= MAX_RATING:
            raise InvalidFeedback(f"a rating is a whole number of stars from {MIN_RATING} "
                                  f"to {MAX_RATING}, got {rating!r}")
        return cls(rating, _checked_comment(comment))

    @classmethod
    def comment_only(cls, comment: object) -> Feedback:
        """A bare comment, as the API took feedback before ratings (no rating recorded)."""
        if comment is None:
            raise InvalidFeedback("a comment-only feedback needs its comment")
        return cls(None, _checked_comment(comment))

    @classmethod
    def recorded(cls, rating: int | None, comment: str | None) -> Feedback | None:
        """What an event stored, unchecked (None when nothing was given)."""
        return None if rating is None and comment is None else cls(rating, comment)

    def as_json(self) -> dict[str, Any] | str | None:
        """The request's fingerprint form: a bare comment stays the string it always was."""
        if self.rating is None:
            return self.comment
        return {"rating": self.rating, "comment": self.comment}


def event_fields(feedback: Feedback | None) -> dict[str, Any]:
    """The fields an event records feedback in (``feedback`` is the comment)."""
    return {"feedback": None if feedback is None else feedback.comment,
            "feedback_rating": None if feedback is None else feedback.rating}


def _checked_comment(comment: object) -> str | None:
    if comment is None:
        return None
    if not isinstance(comment, str) or len(comment) > MAX_COMMENT:
        raise InvalidFeedback(f"a comment is text of at most {MAX_COMMENT} characters")
    return comment
