"""Policies: robomimic training (``train``), evaluation by rollouts (``evaluate``), checkpoint picking,
and the adapter that lets robomimic roll out in mimicrec's envs (``robomimic_env``).
"""

import warnings

# robomimic 0.3.0 builds its image encoders with torchvision's ``resnet18(pretrained=False)``: torchvision warns
# about that argument on every model built (training, each checkpoint loaded); the weights are the same.
for _message in ("The parameter 'pretrained' is deprecated", "Arguments other than a weight enum or `None`"):
    warnings.filterwarnings("ignore", message=_message, category=UserWarning, module="torchvision.models._utils")
