"""Features beside the pipeline's stages, each on top of them: they read a stored suite or a suite file.

``advise`` (what to run next), ``compare`` (two result sets), ``merge`` (suite parts into one store),
``gate`` (the CI regression check), ``preview`` with its gallery (``gallery``, ``gallery_labels``,
``preview_caption``) and ``roundtrip`` (export / import of a stored suite).  Nothing in the stages
imports from here.
"""
