"""One leakage scorecard for any scheme on any images: every scheme × every criterion × seed.

The pieces, from the bottom: :mod:`.base` (what a criterion returns, budgets, the run's
context), the criteria (:mod:`.statistical`, :mod:`.information`, :mod:`.attacks`,
:mod:`.utility`, :mod:`.key`, :mod:`.cost`), :mod:`.schemes` (every library scheme, the two
controls and a user's own), :mod:`.runner` (cells on an Executor, written as they finish,
resumable), :mod:`.report` (CSV, JSON with provenance, HTML) and ``imgleak evaluate``.
"""
