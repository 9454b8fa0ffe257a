"""Annotation of seed demos into object-relative subtasks, and Mimic-style generation of new demos."""
