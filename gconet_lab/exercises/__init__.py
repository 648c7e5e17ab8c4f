"""Checkers for the classroom exercises in ``notebooks/exercises/``: one module per exercise.

Each ``check_...`` runs a student's function or module on named inputs (edge cases included) and
compares it with the library's reference implementation; the first difference raises
:class:`ExerciseFailed` with a message that names the input, the expected and the received value.
"""

from gconet_lab.exercises.binarization import check_differentiable_binarization
from gconet_lab.exercises.binarized_maps import check_uncertain_fraction, uncertain_fraction
from gconet_lab.exercises.coco_group import check_class_mask
from gconet_lab.exercises.feedback import ExerciseFailed
from gconet_lab.exercises.gam_attention import check_group_affinity_attention
from gconet_lab.exercises.gst import check_gst_loss
from gconet_lab.exercises.relation_module import check_relation_module

__all__ = [
    "ExerciseFailed",
    "check_class_mask",
    "check_differentiable_binarization",
    "check_group_affinity_attention",
    "check_gst_loss",
    "check_relation_module",
    "check_uncertain_fraction",
    "uncertain_fraction",
]
