"""torchvision_cpu_fix: torchvision and the model libraries import on CPU torch; nms works."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import torchvision_cpu_fix

REPO_ROOT = Path(__file__).resolve().parents[1]

# The C++ ops torchvision 0.28's Python side uses (its csrc/ops/*.cpp).
TORCHVISION_OPS = [
    "nms",
    "qnms",
    "box_iou_rotated",
    "roi_align",
    "_roi_align_backward",
    "qroi_align",
    "ps_roi_align",
    "_ps_roi_align_backward",
    "roi_pool",
    "_roi_pool_backward",
    "ps_roi_pool",
    "_ps_roi_pool_backward",
    "deform_conv2d",
    "_deform_conv2d_backward",
]

# Drops the hook a `make install` .pth may have put in place, to see torchvision unfixed.
WITHOUT_FIX = (
    "import sys; "
    "sys.meta_path[:] = [f for f in sys.meta_path if type(f).__module__ != 'torchvision_cpu_fix']"
)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter with the repository importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def greedy_nms(boxes: list[list[float]], scores: list[float], threshold: float) -> list[int]:
    """Reference NMS in plain Python."""

    def iou(a: list[float], b: list[float]) -> float:
        width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = width * height
        area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
        return inter / (area - inter)

    keep: list[int] = []
    for i in sorted(range(len(boxes)), key=lambda i: -scores[i]):
        if all(iou(boxes[i], boxes[k]) <= threshold for k in keep):
            keep.append(i)
    return keep


class TestTorchvisionCpuFix:
    def test_model_libraries_import_with_fix(self):
        result = run_python(
            """
            import sys
            import torchvision_cpu_fix
            torchvision_cpu_fix.install()
            import torchvision, open_clip, timm, sentence_transformers
            from transformers import BertModel, CLIPModel
            hooks = [f for f in sys.meta_path if type(f).__module__ == "torchvision_cpu_fix"]
            print("imported", torchvision.__version__, "hooks left:", len(hooks))
            """
        )
        assert result.returncode == 0, result.stderr
        assert "imported 0.28" in result.stdout
        assert "hooks left: 0" in result.stdout

    def test_torchvision_fails_to_import_without_fix(self):
        result = run_python(f"{WITHOUT_FIX}\nimport torchvision")
        if result.returncode == 0:
            pytest.skip(
                "torchvision now imports without torchvision_cpu_fix: the fix is not needed"
            )
        assert "does not exist" in result.stderr, result.stderr

    @pytest.mark.parametrize(("threshold", "expected"), [(0.5, [1, 2, 3, 4]), (0.4, [1, 2, 4])])
    def test_nms_keeps_expected_boxes(self, threshold, expected):
        torchvision_cpu_fix.install()
        import torchvision

        boxes = [
            [0, 0, 10, 10],
            [1, 1, 11, 11],  # IoU 0.68 with box 0, and a higher score: suppresses it
            [50, 50, 60, 60],
            [52, 52, 62, 62],  # IoU 0.47 with box 2, which has a higher score
            [100, 100, 110, 110],
        ]
        scores = [0.6, 0.9, 0.7, 0.65, 0.1]
        kept = torchvision.ops.nms(
            torch.tensor(boxes, dtype=torch.float), torch.tensor(scores), threshold
        )
        assert kept.dtype == torch.int64
        assert kept.tolist() == greedy_nms(boxes, scores, threshold) == expected

    def test_probe_before_import_still_ungates_nms(self):
        # transformers probes importlib.util.find_spec("torchvision") before importing it.
        result = run_python(
            """
            import importlib.util, sys
            import torchvision_cpu_fix
            torchvision_cpu_fix.install()
            assert importlib.util.find_spec("torchvision") is not None
            import torch, torchvision
            boxes = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.05]])
            print("kept", torchvision.ops.nms(boxes, torch.tensor([0.9, 0.8]), 0.5).tolist())
            hooks = [f for f in sys.meta_path if type(f).__module__ == "torchvision_cpu_fix"]
            print("hooks", len(hooks))
            """
        )
        assert result.returncode == 0, result.stderr
        assert "kept [0]" in result.stdout and "hooks 0" in result.stdout

    def test_nms_of_no_boxes_is_empty(self):
        torchvision_cpu_fix.install()
        import torchvision

        kept = torchvision.ops.nms(torch.zeros(0, 4), torch.zeros(0), 0.5)
        assert kept.dtype == torch.int64
        assert kept.shape == (0,)

    def test_declare_missing_ops_is_idempotent(self):
        result = run_python(
            f"""
            import json
            import torch
            import torchvision_cpu_fix
            first = torchvision_cpu_fix.declare_missing_ops()
            second = torchvision_cpu_fix.declare_missing_ops()
            missing = [n for n in {TORCHVISION_OPS!r} if not hasattr(torch.ops.torchvision, n)]
            print(json.dumps({{"first": first, "second": second, "missing": missing}}))
            """
        )
        assert result.returncode == 0, result.stderr
        calls = json.loads(result.stdout)
        assert calls["first"] in ([], TORCHVISION_OPS)
        assert calls["second"] == []
        assert calls["missing"] == []

    def test_install_is_cheap_and_idempotent(self):
        result = run_python(
            """
            import sys
            import torchvision_cpu_fix
            torchvision_cpu_fix.install()
            torchvision_cpu_fix.install()
            hooks = [f for f in sys.meta_path if type(f).__module__ == "torchvision_cpu_fix"]
            print("torch imported:", "torch" in sys.modules, "hooks:", len(hooks))
            """
        )
        assert result.returncode == 0, result.stderr
        assert "torch imported: False hooks: 1" in result.stdout

    def test_install_does_nothing_once_torchvision_is_imported(self):
        result = run_python(
            """
            import sys, types
            sys.meta_path[:] = [
                f for f in sys.meta_path if type(f).__module__ != "torchvision_cpu_fix"
            ]  # drop the hook the .pth file installed at start-up
            sys.modules["torchvision"] = types.ModuleType("torchvision")
            import torchvision_cpu_fix
            torchvision_cpu_fix.install()
            hooks = [f for f in sys.meta_path if type(f).__module__ == "torchvision_cpu_fix"]
            print("hooks:", len(hooks))
            """
        )
        assert result.returncode == 0, result.stderr
        assert "hooks: 0" in result.stdout
