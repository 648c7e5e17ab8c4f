"""Co-saliency data for GCoNet+: reading, indexing, augmentation, training and test batches.

Modules, one responsibility each:

* :mod:`~gconet_lab.data.io` reads images (RGB uint8) and masks (float in [0, 1]);
* :mod:`~gconet_lab.data.layout` indexes the CoSOD folder layout into groups (Sec. 4.1);
* :mod:`~gconet_lab.data.transforms` augments image and mask jointly (Sec. 4.3, difference C25);
* :mod:`~gconet_lab.data.sampling` draws the two groups of each training batch (Eq. 16);
* :mod:`~gconet_lab.data.datasets` turns these into PyTorch datasets and loaders;
* :mod:`~gconet_lab.data.writer` writes converted data back in the CoSOD layout.
* :mod:`~gconet_lab.data.sources` reads COCO annotations and makes copy-paste groups from them.
"""

from gconet_lab.data.datasets import (
    GroupPairDataset,
    GroupTestDataset,
    load_sample,
    make_test_loader,
    make_train_loader,
)
from gconet_lab.data.errors import DataError
from gconet_lab.data.io import image_size, read_image, read_mask
from gconet_lab.data.layout import (
    Group,
    IndexedSet,
    IndexReport,
    Sample,
    Skip,
    index_dirs,
    index_set,
    index_sets,
    list_sets,
)
from gconet_lab.data.sampling import GroupPairSampler, PairDraw, class_names_of, group_size_n
from gconet_lab.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    AugmentConfig,
    TrainTransform,
    denormalize,
    prepare_image,
)

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "AugmentConfig",
    "DataError",
    "Group",
    "GroupPairDataset",
    "GroupPairSampler",
    "GroupTestDataset",
    "IndexReport",
    "IndexedSet",
    "PairDraw",
    "Sample",
    "Skip",
    "TrainTransform",
    "class_names_of",
    "denormalize",
    "group_size_n",
    "image_size",
    "index_dirs",
    "index_set",
    "index_sets",
    "list_sets",
    "load_sample",
    "make_test_loader",
    "make_train_loader",
    "prepare_image",
    "read_image",
    "read_mask",
]
