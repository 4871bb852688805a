"""Built-in datasets; importing this package registers each one with ``register_dataset``.

Why explicit imports: the registry loads built-ins by importing this package, so every entry
module must be imported here (one line per dataset file).
"""

from segbench.datasets import busi, datalist, folder, glas, msd, msd2d, nnunet, spheres3d, textures2d

__all__ = ["busi", "datalist", "folder", "glas", "msd", "msd2d", "nnunet", "spheres3d", "textures2d"]
