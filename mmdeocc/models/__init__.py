"""Models: PCNet-M (UNet), PCNet-C (partial-conv UNet generator, patch
discriminator and the GAN model) and their checkpoint helpers."""
from .checkpoint_io import (ConfigTextError, PCNetMCheckpointError,
                            config_text_for_model, load_pcnet_c,
                            load_pcnet_m, model_cfg_from_text,
                            save_checkpoint_atomic)
from .converters import (CheckpointConversionError, detect_reference_kind,
                         mmdeocc_to_reference_pcnet_m,
                         reference_to_mmdeocc_pcnet_m)
from .pcnet_m import PCNetM, UnknownCategoryError
from .unet import UNet, unet_channels

__all__ = [
    'ConfigTextError', 'PCNetMCheckpointError', 'config_text_for_model',
    'load_pcnet_c', 'load_pcnet_m', 'model_cfg_from_text',
    'save_checkpoint_atomic', 'CheckpointConversionError',
    'detect_reference_kind', 'mmdeocc_to_reference_pcnet_m',
    'reference_to_mmdeocc_pcnet_m', 'PCNetM', 'UnknownCategoryError', 'UNet',
    'unet_channels'
]

# PCNet-C (content completion)
from .losses import (PCNetCAdversarialLoss, PCNetCInpaintingLoss,  # noqa: E402
                     gan_bce_loss, gram_matrix, total_variation_loss)
from .partial_conv import PartialConv2d, PartialConvShapeError  # noqa: E402
from .discriminator import PCNetCDiscriminator  # noqa: E402
from .pconv_unet import PCNetCGenerator, PCNetCInputError  # noqa: E402
from .pcnet_c import PCNetC  # noqa: E402
from .pcnet_c_convert import (PCNetCCheckpointError,  # noqa: E402
                              expand_inpainting_checkpoint,
                              mmdeocc_to_reference_pcnet_c,
                              reference_to_mmdeocc_pcnet_c)
from .vgg_features import VGG16Features, VGGWeightsError  # noqa: E402

__all__ += [
    'PCNetCAdversarialLoss', 'PCNetCInpaintingLoss', 'gan_bce_loss',
    'gram_matrix', 'total_variation_loss', 'PartialConv2d',
    'PartialConvShapeError', 'PCNetC', 'PCNetCDiscriminator',
    'PCNetCGenerator', 'PCNetCInputError', 'PCNetCCheckpointError',
    'expand_inpainting_checkpoint', 'mmdeocc_to_reference_pcnet_c',
    'reference_to_mmdeocc_pcnet_c', 'VGG16Features', 'VGGWeightsError'
]
