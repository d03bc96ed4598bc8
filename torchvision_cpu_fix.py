"""Make the PyPI torchvision wheel importable with the CPU-only torch wheel.

Why: PyPI's torchvision 0.28 wheel is built for CUDA torch. Its compiled ops library
(``torchvision/_C.so``) links ``libtorch_cuda``/``libc10_cuda``, which the CPU torch wheel lacks,
so torchvision silently skips loading it; ``torchvision/_meta_registrations.py`` then registers
fake kernels for ``torchvision::nms`` and ``torchvision::qnms`` anyway, and ``import torchvision``
fails with ``RuntimeError: operator torchvision::nms does not exist``. That also breaks
open_clip, timm, sentence_transformers and transformers' model classes, which import torchvision.

What: before torchvision is first imported, :func:`declare_missing_ops` defines the schemas of
the ops in ``_SCHEMAS`` (nms, qnms, box_iou_rotated, roi_align, qroi_align, ps_roi_align,
roi_pool, ps_roi_pool, deform_conv2d and their backward ops, copied from torchvision's
``csrc/ops/*.cpp``) and registers a plain-PyTorch CPU kernel for ``nms``. After the import,
``torchvision.ops.boxes`` no longer refuses to run without the compiled library, so
``torchvision.ops.nms`` and ``batched_nms`` reach that kernel. Everything else then works,
``roi_align`` too (torchvision's own pure-PyTorch fallback), except the other detection ops
(roi_pool, ps_roi_align, ps_roi_pool, deform_conv2d, qnms, qroi_align, rotated ``box_iou``):
they raise, having schemas but no kernels. Where the compiled ops load, nothing is changed.

How it is activated: ``make install`` writes a ``.pth`` file containing
``import torchvision_cpu_fix; torchvision_cpu_fix.install()`` into the venv's site-packages, so
every interpreter start installs the import hook; it does not import torch (or even
``importlib.abc``, which costs ~30 ms) until torchvision is imported. Our own code can also call
:func:`install` explicitly before importing model libraries.
"""

from __future__ import annotations

import sys

# Not `from typing import TYPE_CHECKING`: importing typing would add ~3 ms to every start.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Sequence
    from importlib.abc import Loader
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    from torch import Tensor
    from torch.library import Library

__all__ = ["declare_missing_ops", "install"]

# Schemas of torchvision 0.28's C++ ops that its Python side uses (torchvision/csrc/ops/*.cpp).
_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "box_iou_rotated(Tensor boxes1, Tensor boxes2) -> Tensor",
    (
        "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
        "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor"
    ),
    (
        "_roi_align_backward(Tensor grad, Tensor rois, float spatial_scale, SymInt pooled_height, "
        "SymInt pooled_width, SymInt batch_size, SymInt channels, SymInt height, SymInt width, "
        "int sampling_ratio, bool aligned) -> Tensor"
    ),
    (
        "qroi_align(Tensor input, Tensor rois, float input_scale, int input_zero_point, "
        "float rois_scale, int rois_zero_point, float spatial_scale, SymInt pooled_height, "
        "SymInt pooled_width, int sampling_ratio, bool aligned) -> Tensor"
    ),
    (
        "ps_roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
        "SymInt pooled_width, int sampling_ratio) -> (Tensor, Tensor)"
    ),
    (
        "_ps_roi_align_backward(Tensor grad, Tensor rois, Tensor channel_mapping, "
        "float spatial_scale, SymInt pooled_height, SymInt pooled_width, int sampling_ratio, "
        "SymInt batch_size, SymInt channels, SymInt height, SymInt width) -> Tensor"
    ),
    (
        "roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
        "SymInt pooled_width) -> (Tensor, Tensor)"
    ),
    (
        "_roi_pool_backward(Tensor grad, Tensor rois, Tensor argmax, float spatial_scale, "
        "SymInt pooled_height, SymInt pooled_width, SymInt batch_size, SymInt channels, "
        "SymInt height, SymInt width) -> Tensor"
    ),
    (
        "ps_roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
        "SymInt pooled_width) -> (Tensor, Tensor)"
    ),
    (
        "_ps_roi_pool_backward(Tensor grad, Tensor rois, Tensor channel_mapping, "
        "float spatial_scale, SymInt pooled_height, SymInt pooled_width, SymInt batch_size, "
        "SymInt channels, SymInt height, SymInt width) -> Tensor"
    ),
    (
        "deform_conv2d(Tensor input, Tensor weight, Tensor offset, Tensor mask, Tensor bias, "
        "SymInt stride_h, SymInt stride_w, SymInt pad_h, SymInt pad_w, SymInt dilation_h, "
        "SymInt dilation_w, SymInt groups, SymInt offset_groups, bool use_mask) -> Tensor"
    ),
    (
        "_deform_conv2d_backward(Tensor grad, Tensor input, Tensor weight, Tensor offset, "
        "Tensor mask, Tensor bias, SymInt stride_h, SymInt stride_w, SymInt pad_h, SymInt pad_w, "
        "SymInt dilation_h, SymInt dilation_w, SymInt groups, SymInt offset_groups, "
        "bool use_mask) -> (Tensor, Tensor, Tensor, Tensor, Tensor)"
    ),
)

# Libraries holding our definitions (ops vanish when their Library is garbage collected).
_LIBRARIES: list[Library] = []
# Names of the ops declared here, across calls.
_DECLARED: list[str] = []


def install() -> None:
    """Declare torchvision's missing ops when torchvision is first imported (idempotent)."""
    if "torchvision" not in sys.modules and _FINDER not in sys.meta_path:
        sys.meta_path.insert(0, _FINDER)


def declare_missing_ops() -> list[str]:
    """Define the torchvision ops that are not defined yet, with a CPU kernel for ``nms``.

    Returns the names declared: empty when torchvision's compiled ops are loaded, or on a
    second call.
    """
    import torch

    schemas = [s for s in _SCHEMAS if not hasattr(torch.ops.torchvision, _op_name(s))]
    if not schemas:
        return []
    library = torch.library.Library("torchvision", "FRAGMENT")
    _LIBRARIES.append(library)
    for schema in schemas:
        library.define(schema)
    names = [_op_name(s) for s in schemas]
    if "nms" in names:
        library.impl("nms", _nms_cpu, "CPU")
    _DECLARED.extend(names)
    return names


def _op_name(schema: str) -> str:
    return schema.split("(", 1)[0]


def _nms_cpu(dets: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Greedy NMS, as torchvision's CPU kernel: indices of kept boxes, by decreasing score."""
    import torch

    torch._check(dets.dim() == 2 and dets.size(1) == 4, lambda: "boxes must be a [N, 4] tensor")
    torch._check(
        scores.dim() == 1 and scores.size(0) == dets.size(0), lambda: "scores must be a [N] tensor"
    )
    torch._check(dets.dtype == scores.dtype, lambda: "dets should have the same type as scores")
    order = scores.argsort(descending=True, stable=True)
    x1, y1, x2, y2 = dets[order].unbind(1)
    areas = (x2 - x1) * (y2 - y1)
    suppressed = torch.zeros(order.numel(), dtype=torch.bool)
    keep: list[int] = []
    for i in range(order.numel()):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = slice(i + 1, None)
        width = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest])).clamp(min=0)
        height = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest])).clamp(min=0)
        inter = width * height
        suppressed[rest] |= inter / (areas[i] + areas[rest] - inter) > iou_threshold
    return order[keep]


def _assert_nms_kernel() -> None:
    """Stand-in for torchvision's ``_assert_has_ops`` in ``torchvision.ops.boxes``."""


class _TorchvisionFinder:
    """One-shot meta path finder (the ``importlib.abc.MetaPathFinder`` protocol) for torchvision."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        """Declare the missing ops, and hand out torchvision's spec with a loader that lifts
        the ops gate in ops/boxes.py.

        The finder stays installed until torchvision actually executes: libraries probe with
        ``importlib.util.find_spec("torchvision")`` before importing, and a spec handed to a
        probe is thrown away. Returns None (normal import) when the compiled ops loaded.
        """
        if fullname != "torchvision":
            return None
        declare_missing_ops()
        if "nms" not in _DECLARED:
            _uninstall()
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _UngateNmsLoader(spec.loader)
        return spec


def _uninstall() -> None:
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)


class _UngateNmsLoader:
    """Loader running torchvision's own loader, then letting ``torchvision.ops.nms`` run."""

    def __init__(self, loader: Loader) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        """Delegate to torchvision's loader."""
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        """Restore torchvision's loader on the module, execute it, then lift the nms gate."""
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        _uninstall()
        from torchvision.ops import boxes

        boxes._assert_has_ops = _assert_nms_kernel


_FINDER = _TorchvisionFinder()
