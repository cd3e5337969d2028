"""Realistic product reviews (positive / negative), for the README's screenshots and the evaluation bench."""

from __future__ import annotations

import random
from pathlib import Path

PRODUCTS = ["headphones", "phone case", "coffee grinder", "desk lamp", "backpack", "keyboard", "water bottle",
            "running shoes", "blender", "charger", "office chair", "tent"]
GOOD = ["Works exactly as described and the {p} arrived two days early.", "Great value, I use the {p} every day.",
        "The {p} feels solid and the battery lasts all week.", "Really happy with this {p}, would buy again.",
        "Setup took five minutes and the {p} has been flawless since.", "Comfortable, quiet and well made {p}.",
        "My second {p} from this brand and still impressed.", "Good quality {p} for the price, recommended."]
BAD = ["The {p} stopped working after a week.", "Cheap plastic, the {p} cracked on the first day.",
       "Arrived late and the {p} was missing parts.", "Returned it: the {p} is much smaller than the photos.",
       "Customer support never answered about my broken {p}.", "The {p} smells of chemicals and feels flimsy.",
       "Loud, slow and the {p} overheats after ten minutes.", "Waste of money, this {p} is unusable."]


OPENERS = ["", "Bought it for my son. ", "Second order. ", "Gift for a friend. ", "Used it for a month. ",
           "Honest review: ", "Update after two weeks: ", "Ordered the blue one. "]


def write_reviews(path: Path, rows: int = 240) -> Path:
    """The reviews as a CSV file with the columns review, sentiment."""
    lines = ["review,sentiment", *(f"\"{text}\",{label}" for text, label in reviews(rows))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def reviews(rows: int = 240) -> list[tuple[str, str]]:
    """(review, sentiment) pairs, the same ones `write_reviews` writes."""
    rng = random.Random(7)
    out = []
    for i in range(rows):
        good = i % 2 == 0
        text = rng.choice(OPENERS) + rng.choice(GOOD if good else BAD).format(p=rng.choice(PRODUCTS))
        out.append((text, "positive" if good else "negative"))
    return out
