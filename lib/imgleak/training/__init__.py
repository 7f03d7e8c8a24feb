"""Training loops: classifiers, transformation networks; one seeded-training helper
(:func:`~imgleak.training.seeding.seeded_training`), the settings every run shares
(:mod:`~imgleak.training.run_settings`) and one frozen config dataclass per loop, built on them."""
