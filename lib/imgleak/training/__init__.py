"""Training loops: classifiers, transformation networks; one seeded-training helper
(:func:`~imgleak.training.seeding.seeded_training`) and one frozen config dataclass per loop."""
