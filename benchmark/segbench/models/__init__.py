"""Built-in models; importing this package registers them.

Each factory receives ``spatial_dims``, ``in_channels``, ``out_channels`` (and ``img_size``
where it asks for it) from the runner; every other keyword is a suite ``params:`` entry
using MONAI's own argument names.
"""

from segbench.models import attention_unet, gated_unet, noskip_unet, unet, unetr
from segbench.models.build import build_model, count_parameters

__all__ = ["attention_unet", "build_model", "count_parameters", "gated_unet", "noskip_unet", "unet", "unetr"]
