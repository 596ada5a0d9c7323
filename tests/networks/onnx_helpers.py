"""Small ONNX graphs built with onnx.helper for the tests (no framework needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


class GraphBuilder:
    """A chain of nodes from input ``x`` (shape ``(batch, *shape)``) with float32 initializers."""

    def __init__(self, shape: tuple[int, ...], *, batch: int | str = "N", seed: int = 0, opset: int = OPSET) -> None:
        self.shape = shape
        self.opset = opset
        self.batch = batch
        self.rng = np.random.default_rng(seed)
        self.nodes: list[Any] = []
        self.inits: list[Any] = []
        self.current = "x"
        self.k = 0

    def const(self, arr: np.ndarray, dtype: Any = np.float32) -> str:
        name = f"c{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(np.asarray(arr, dtype=dtype), name))
        return name

    def rand(self, *shape: int, scale: float = 0.5) -> str:
        return self.const(self.rng.normal(0.0, scale, size=shape))

    def node(self, op: str, *consts: str, **attrs: Any) -> GraphBuilder:
        out = f"t{self.k}"
        self.k += 1
        self.nodes.append(helper.make_node(op, [self.current, *consts], [out], name=f"{op.lower()}_{self.k}", **attrs))
        self.current = out
        return self

    def model(self) -> Any:
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [self.batch, *self.shape])
        y = helper.make_tensor_value_info(self.current, TensorProto.FLOAT, [self.batch, "n_out"])
        graph = helper.make_graph(self.nodes, "g", [x], [y], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = 8
        return model

    def save(self, path: Path) -> Path:
        onnx.save(self.model(), str(path))
        return path


def run_ort(path: Path, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: x.astype(np.float32)})[0]
    return np.asarray(out, dtype=np.float64).reshape(x.shape[0], -1)


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())
