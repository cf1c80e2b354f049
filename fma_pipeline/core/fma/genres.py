"""The FMA genres known without ``genres.csv``: its 16 roots and a few sub-genres.

The sample dataset writes them as its ``genres.csv``; ``import`` falls back on them when a
data root has no FMA metadata yet; the scale benchmark uses them when FMA's real file is
not at hand.
"""

from __future__ import annotations

import pandas as pd

#: (genre_id, parent, title): FMA's 16 top-level genres and the sub-genres the sample's
#: synthesiser renders. Ids, parents and titles are FMA's own.
KNOWN_GENRES: tuple[tuple[int, int, str], ...] = (
    (2, 0, "International"), (3, 0, "Blues"), (4, 0, "Jazz"), (5, 0, "Classical"),
    (8, 0, "Old-Time / Historic"), (9, 0, "Country"), (10, 0, "Pop"), (12, 0, "Rock"),
    (13, 0, "Easy Listening"), (14, 0, "Soul-RnB"), (15, 0, "Electronic"), (17, 0, "Folk"),
    (20, 0, "Spoken"), (21, 0, "Hip-Hop"), (38, 0, "Experimental"), (1235, 0, "Instrumental"),
    (25, 12, "Punk"), (31, 12, "Metal"), (42, 15, "Ambient Electronic"), (181, 15, "Techno"),
    (539, 21, "Rap"), (542, 21, "Breakbeat"), (74, 4, "Free-Jazz"), (179, 4, "Big Band/Swing"),
    (442, 5, "Chamber Music"), (444, 5, "Symphony"),
)


def known_genres() -> pd.DataFrame:
    """:data:`KNOWN_GENRES` as a ``genres.csv`` table.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``genre_id``, with ``parent``, ``title``, ``top_level`` and ``#tracks``
        (0: callers count their own tracks).
    """
    table = pd.DataFrame(KNOWN_GENRES, columns=["genre_id", "parent", "title"]).set_index("genre_id")
    table["top_level"] = [gid if parent == 0 else parent for gid, parent in table["parent"].items()]
    table["#tracks"] = 0
    return table.sort_index()
