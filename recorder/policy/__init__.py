"""Policies: robomimic training (``train``), evaluation by rollouts (``evaluate``), checkpoint picking,
and the adapter that lets robomimic roll out in mimicrec's envs (``robomimic_env``).
"""
