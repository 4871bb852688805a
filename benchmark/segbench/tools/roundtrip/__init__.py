"""Benchmark a model that runs outside segbench: export test sets, import its predictions.

``export`` writes the suite's perturbed test images (the same draws its own models see) plus a
manifest; the user runs any tool on them; ``importer`` scores the predicted masks and stores them
as an ordinary model row, so the report, statistics and gate treat it like the suite's models.
"""
