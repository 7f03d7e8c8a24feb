"""One leakage scorecard for any scheme on any images: every scheme × every criterion × seed, judged.

The pieces, from the bottom: :mod:`.base` (what a criterion returns, budgets, the run's
context, the adversaries), the criteria (:mod:`.statistical`, :mod:`.games`, :mod:`.information`,
:mod:`.attacks`, :mod:`.utility`, :mod:`.key`, :mod:`.cost`; each module declares its family and
adversary), :mod:`.schemes` (every library scheme, the two controls and a user's own) and
:mod:`.gallery` (deliberately broken schemes); running a scorecard: :mod:`.sources` (images and
contexts), :mod:`.cells` (criteria, cells, the key cache), :mod:`.store` (cell files, resume,
provenance), :mod:`.runner` (cells on an Executor); reading it: :mod:`.verdicts` (every
measurement judged against the controls), :mod:`.analysis` (leak scores, agreement),
:mod:`.report` (CSV, JSON, HTML); and :func:`.evaluate.evaluate`, the one call behind
``imgleak evaluate`` and the benchmark chapter.
"""
