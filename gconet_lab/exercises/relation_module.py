"""Exercise 4: replace GAM (Sec. 3.2) with another relation module.

The student writes a class ``Relation(channels)``: an ``nn.Module`` that maps the deepest features
of one group (N, C, h, w) to a :class:`~gconet_lab.models.gam.GAMOutput` (consensus (1, C, 1, 1),
attention (N, 1, h, w)), like :class:`~gconet_lab.models.gam.GroupAffinityModule`.  Any design is
accepted when it keeps GAM's contract:

* the shapes above, for any group size including one image;
* a group is a set: permuting its images leaves the consensus unchanged and permutes the attention;
* the outputs depend on the features (gradients reach them);
* it runs inside GCoNetPlus, in training (two groups) and evaluation (one group) mode.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from gconet_lab.config import make_config
from gconet_lab.exercises.feedback import call_student, expect, expect_shape, expect_tensor, passed
from gconet_lab.models.gam import GAMOutput
from gconet_lab.models.gconet_plus import GCoNetPlus, deepest_channels

CHANNELS = 16
RelationFactory = Callable[[int], nn.Module]


def run(module: nn.Module, features: Tensor, on: str) -> GAMOutput:
    """The student's forward pass with the contract's types and shapes checked."""
    output = call_student(module, "forward", on, features)
    expect(isinstance(output, GAMOutput), f"forward should return a GAMOutput(consensus=..., attention=...), received {type(output).__name__}", on)
    n, c, h, w = features.shape
    expect_shape(output.consensus, (1, c, 1, 1), "the consensus E", on)
    expect_shape(output.attention, (n, 1, h, w), "the attention map", on)
    for name, value in (("consensus", output.consensus), ("attention", output.attention)):
        expect(bool(torch.isfinite(value).all()), f"the {name} holds non-finite values (inf or nan)", on)
    return output


def check_shapes(module: nn.Module) -> list[str]:
    generator = torch.Generator().manual_seed(0)
    cases = {
        f"a group of 3 images ({3}, {CHANNELS}, 4, 5)": torch.randn(3, CHANNELS, 4, 5, generator=generator),
        f"a group of one image (1, {CHANNELS}, 3, 3)": torch.randn(1, CHANNELS, 3, 3, generator=generator),
        f"5 images of 1x1 pixel (5, {CHANNELS}, 1, 1)": torch.randn(5, CHANNELS, 1, 1, generator=generator),
    }
    with torch.no_grad():
        for on, features in cases.items():
            run(module, features, on)
    return [f"shapes on {on}" for on in cases]


def check_permutation(module: nn.Module) -> str:
    features = torch.randn(4, CHANNELS, 3, 4, generator=torch.Generator().manual_seed(1))
    order = torch.tensor([2, 0, 3, 1])
    on = f"a group of 4 images (4, {CHANNELS}, 3, 4) and the same images in the order {order.tolist()}"
    with torch.no_grad():
        original, permuted = run(module, features, on), run(module, features[order], on)
    expect_tensor(permuted.consensus, original.consensus, "the consensus of the reordered group (a group is a set: same consensus)", on, atol=1e-4, rtol=1e-3)
    expect_tensor(permuted.attention, original.attention[order], "the attention of the reordered group (the maps should follow their images)", on, atol=1e-4, rtol=1e-3)
    return "the consensus ignores the images' order, the attention follows it"


def check_gradients(module: nn.Module) -> str:
    on = f"a group of 3 images (3, {CHANNELS}, 4, 4) that requires grad"
    features = torch.randn(3, CHANNELS, 4, 4, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    output = run(module, features, on)
    (output.consensus.sum() + output.attention.sum()).backward()
    gradient = features.grad
    expect(gradient is not None and float(gradient.abs().sum()) > 0, "no gradient reaches the features: the outputs must be computed from them with torch operations", on)
    return "gradients reach the features"


def check_in_model(factory: RelationFactory) -> str:
    config = make_config("tiny", use_acm=False, use_racm=False, use_gst=False)
    on = f"GCoNetPlus(make_config('tiny'), gam=...) with C={deepest_channels(config)}, images (4, 3, 64, 64)"
    model = GCoNetPlus(config, gam=call_student(factory, "the constructor", on, deepest_channels(config)))
    images = torch.randn(4, 3, config.image_size, config.image_size, generator=torch.Generator().manual_seed(3))
    training = call_student(model.train(), "GCoNetPlus with your module (training mode, two groups)", on, images)
    with torch.no_grad():
        evaluation = call_student(model.eval(), "GCoNetPlus with your module (evaluation mode, one group)", on, images)
    for output in (training, evaluation):
        expect_shape(output.saliency, (4, 1, config.image_size, config.image_size), "the saliency maps", on)
    return "runs inside GCoNetPlus in training and evaluation mode"


def check_relation_module(factory: RelationFactory) -> None:
    """Check that ``factory(channels)`` builds a module that keeps GAM's contract (module docstring)."""
    on = f"channels={CHANNELS}"
    module = call_student(factory, "the constructor", on, CHANNELS)
    expect(isinstance(module, nn.Module), f"the constructor should build a torch.nn.Module, received {type(module).__name__}", on)
    module.eval()  # deterministic: no dropout while comparing outputs
    cases = [*check_shapes(module), check_permutation(module), check_gradients(module), check_in_model(factory)]
    passed(getattr(factory, "__name__", "relation module"), cases)
