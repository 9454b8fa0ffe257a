"""mimicrec's recorder: recording seed demos (``record``, ``devices``), the dataset layer every command
writes and reads through (``dataset``), robomimic training and evaluation (``policy``), and the CLI.

``recorder`` never imports ``augment`` (annotation and generation); only the CLI joins the two.
"""
