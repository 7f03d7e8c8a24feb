"""Experiment glue, one module per chapter: ``selective``, ``rvt``, ``attacks``; ``paper_values``
holds the papers' published numbers (as data, with their sources) and ``findings`` the type in
which a chapter's module reports what its run says beside the paper. The top layer: no other
library module imports it."""
