"""Photo textures: random RGB crops of the images of a folder."""
import os
import os.path as osp

import cv2
import numpy as np

__all__ = ['TEXTURE_EXTENSIONS', 'TextureBank']

#: File extensions of texture photos (lower case).
TEXTURE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


class TextureBank:
    """Random RGB crops of the photos of a folder (textures of scenes).

    Args:
        folder (str): Folder of ``.jpg/.jpeg/.png/.bmp`` images.

    Raises:
        FileNotFoundError: The folder is missing or has no image.
    """

    def __init__(self, folder: str) -> None:
        if not osp.isdir(folder):
            raise FileNotFoundError(f'texture folder {folder!r} not found')
        self.files = sorted(
            osp.join(folder, f) for f in os.listdir(folder)
            if osp.splitext(f)[1].lower() in TEXTURE_EXTENSIONS)
        if not self.files:
            raise FileNotFoundError(
                f'texture folder {folder!r} has no {TEXTURE_EXTENSIONS} image')

    def sample(self, rng: np.random.Generator, height: int,
               width: int) -> np.ndarray:
        """A random ``(height, width, 3)`` uint8 RGB crop of a random photo.

        Photos smaller than the crop are upscaled (bilinear) first.

        Args:
            rng (np.random.Generator): Random source.
            height (int): Crop height.
            width (int): Crop width.

        Returns:
            np.ndarray: RGB uint8 crop.

        Raises:
            FileNotFoundError: The drawn photo cannot be read.
        """
        path = self.files[int(rng.integers(len(self.files)))]
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f'{path}: cannot read the texture image')
        h, w = img.shape[:2]
        scale = max(height / h, width / w, 1.0)
        if scale > 1.0:
            img = cv2.resize(img, (int(np.ceil(w * scale)),
                                   int(np.ceil(h * scale))),
                             interpolation=cv2.INTER_LINEAR)
            h, w = img.shape[:2]
        y0 = int(rng.integers(h - height + 1))
        x0 = int(rng.integers(w - width + 1))
        crop = img[y0:y0 + height, x0:x0 + width]
        return np.ascontiguousarray(crop[:, :, ::-1])
