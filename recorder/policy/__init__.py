"""Policies: robomimic training (``train``), evaluation by rollouts (``evaluate``), checkpoint picking,
and the adapter that lets robomimic roll out in mimicrec's envs (``robomimic_env``).
"""

import warnings


def ignore_resnet_argument_warnings() -> None:
    """Silence torchvision's two warnings about ``resnet18(pretrained=False)``, which robomimic 0.3.0 calls for
    every image encoder it builds (training, each checkpoint loaded); the network is the same either way."""
    for message in ("The parameter 'pretrained' is deprecated", "Arguments other than a weight enum or `None`"):
        warnings.filterwarnings("ignore", message=message, category=UserWarning, module="torchvision.models._utils")
