"""Train a small CNN on the 8x8 digits in plain numpy and export it to ONNX with onnx.helper.

This is how ``examples/models/digits_cnn.onnx`` and ``examples/models/digits_1000.npz`` were made
(``python examples/10_digits_cnn_onnx.py``); any framework's export works the same way for xbarsim,
e.g. PyTorch's ``torch.onnx.export(model, torch.zeros(1, 1, 8, 8), "model.onnx")``.

Network (NCHW): Conv 1->8 3x3 pad 1, ReLU, MaxPool 2, Conv 8->16 3x3 pad 1, ReLU, MaxPool 2,
Flatten (64), Gemm 64->10 (logits). Trained with Adam on softmax cross-entropy, seeded (~10 s), then
fine-tuned with ternary weights in the loop (threshold 0.5 mean|w|, straight-through) and exported
again as `digits_cnn_ternary.onnx` for the binary-device LEA chip (96.0 % and 93.6 % test accuracy).

Data: scikit-learn's bundled digits (1,797 images, pixels / 16), a stratified split of 697 train /
100 validation / 1,000 test images (1,000 test images for the issue-17 benchmark), written as
``digits_1000.npz`` with ``x_*`` of shape ``(n, 1, 8, 8)`` float32 and ``y_*`` int64.

The script then reads its own .onnx file back with :func:`xbarsim.networks.load_onnx` (checked
against onnxruntime) and prints the software accuracy of both.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from xbarsim.networks import im2col, load_onnx, ternarize_matrix

HERE = Path(__file__).resolve().parent


def split_digits(seed: int = 0) -> dict[str, np.ndarray]:
    bunch = load_digits()
    x = (bunch.data / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    y = bunch.target.astype(np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=1000, stratify=y, random_state=seed)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=100, stratify=y_rest,
                                                      random_state=seed)
    return {"x_train": x_train, "y_train": y_train, "x_val": x_val, "y_val": y_val, "x_test": x_test,
            "y_test": y_test}


# ------------------------------------------------------------------------- numpy CNN and its gradients
def conv_forward(x, w, b):
    patches = im2col(x, w.shape[2:], padding=(1, 1, 1, 1))
    z = patches @ w.reshape(w.shape[0], -1).T + b
    n, _, h, wd = x.shape
    return z.reshape(n, h, wd, -1).transpose(0, 3, 1, 2), patches


def conv_backward(dz, x, w, patches):
    n, c, h, wd = x.shape
    dzf = dz.transpose(0, 2, 3, 1).reshape(-1, w.shape[0])
    dw = (patches.T @ dzf).T.reshape(w.shape)
    db = dzf.sum(axis=0)
    dp = (dzf @ w.reshape(w.shape[0], -1)).reshape(n, h, wd, c, 3, 3)
    dxp = np.zeros((n, c, h + 2, wd + 2))
    for p in range(3):
        for q in range(3):
            dxp[:, :, p:p + h, q:q + wd] += dp[:, :, :, :, p, q].transpose(0, 3, 1, 2)
    return dxp[:, :, 1:-1, 1:-1], dw, db


def pool_forward(x):
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
    arg = blocks.argmax(axis=-1)
    return np.take_along_axis(blocks, arg[..., None], -1)[..., 0], arg


def pool_backward(d, arg, shape):
    n, c, h, w = shape
    onehot = np.zeros(arg.shape + (4,))
    np.put_along_axis(onehot, arg[..., None], 1.0, -1)
    g = onehot * d[..., None]
    return g.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(shape)


def forward(params, x):
    z1, p1 = conv_forward(x, params["w1"], params["b1"])
    a1 = np.maximum(z1, 0)
    m1, arg1 = pool_forward(a1)
    z2, p2 = conv_forward(m1, params["w2"], params["b2"])
    a2 = np.maximum(z2, 0)
    m2, arg2 = pool_forward(a2)
    f = m2.reshape(len(x), -1)
    logits = f @ params["w3"].T + params["b3"]
    return logits, (x, z1, p1, a1, arg1, m1, z2, p2, a2, arg2, m2, f)


def gradients(params, x, y):
    logits, (x, z1, p1, a1, arg1, m1, z2, p2, a2, arg2, m2, f) = forward(params, x)
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob = e / e.sum(axis=1, keepdims=True)
    d = prob
    d[np.arange(len(y)), y] -= 1
    d /= len(y)
    g = {"w3": d.T @ f, "b3": d.sum(axis=0)}
    dm2 = (d @ params["w3"]).reshape(m2.shape)
    dz2 = pool_backward(dm2, arg2, a2.shape) * (z2 > 0)
    dm1, g["w2"], g["b2"] = conv_backward(dz2, m1, params["w2"], p2)
    dz1 = pool_backward(dm1, arg1, a1.shape) * (z1 > 0)
    _, g["w1"], g["b1"] = conv_backward(dz1, x, params["w1"], p1)
    return g


def ternary(params, delta: float):
    """Weights ``gamma * t``, ``t`` in {-1, 0, 1} per layer (xbarsim's ternarize_matrix); biases as they are."""
    out = dict(params)
    for k in ("w1", "w2", "w3"):
        codes, gamma = ternarize_matrix(params[k], delta=delta)
        out[k] = gamma * codes.astype(np.float64)
    return out


def train(data, *, epochs: int, seed: int, params=None, delta: float | None = None, lr: float = 3e-3
          ) -> dict[str, np.ndarray]:
    """Adam on softmax cross-entropy. With ``delta``: quantization-aware, the forward and backward
    passes use the ternary weights and the gradient updates the real ones (straight-through)."""
    rng = np.random.default_rng(seed)
    if params is None:
        params = {
            "w1": rng.normal(0, np.sqrt(2 / 9), (8, 1, 3, 3)), "b1": np.zeros(8),
            "w2": rng.normal(0, np.sqrt(2 / 72), (16, 8, 3, 3)), "b2": np.zeros(16),
            "w3": rng.normal(0, np.sqrt(1 / 64), (10, 64)), "b3": np.zeros(10),
        }
    params = {k: v.copy() for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    s = {k: np.zeros_like(v) for k, v in params.items()}
    x, y = data["x_train"].astype(np.float64), data["y_train"]
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), 32):
            idx = order[start:start + 32]
            g = gradients(params if delta is None else ternary(params, delta), x[idx], y[idx])
            step += 1
            for k in params:  # Adam
                m[k] = 0.9 * m[k] + 0.1 * g[k]
                s[k] = 0.999 * s[k] + 0.001 * g[k] ** 2
                params[k] -= lr * (m[k] / (1 - 0.9**step)) / (np.sqrt(s[k] / (1 - 0.999**step)) + 1e-8)
    return params


def export(params, path: Path) -> None:
    inits = [numpy_helper.from_array(params[k].astype(np.float32), k) for k in ("w1", "b1", "w2", "b2", "w3", "b3")]
    nodes = [
        helper.make_node("Conv", ["input", "w1", "b1"], ["z1"], name="conv1", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["z1"], ["a1"], name="relu1"),
        helper.make_node("MaxPool", ["a1"], ["m1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["m1", "w2", "b2"], ["z2"], name="conv2", pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        helper.make_node("Relu", ["z2"], ["a2"], name="relu2"),
        helper.make_node("MaxPool", ["a2"], ["m2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["m2"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["logits"], name="fc", transB=1),
    ]
    graph = helper.make_graph(nodes, "digits_cnn", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                                  ["batch", 1, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="xbarsim example 10")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "models", help="folder for the .onnx and .npz files")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--ternary-epochs", type=int, default=40)
    parser.add_argument("--delta", type=float, default=0.5, help="ternary threshold factor (TWN: 0.7)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    data = split_digits(args.seed)
    np.savez_compressed(args.out / "digits_1000.npz", **data)
    params = train(data, epochs=args.epochs, seed=args.seed)
    # The LEA chip's devices are binary (133 / 233 uS): its networks are ternary. Fine-tune with
    # ternary weights in the loop, then export the ternary weights themselves.
    tuned = train(data, epochs=args.ternary_epochs, seed=args.seed + 1, params=params, delta=args.delta, lr=1e-3)
    for name, p in (("digits_cnn.onnx", params), ("digits_cnn_ternary.onnx", ternary(tuned, args.delta))):
        export(p, args.out / name)
        net = load_onnx(args.out / name)
        numpy_acc = float(np.mean(forward(p, data["x_test"].astype(np.float64))[0].argmax(axis=1) == data["y_test"]))
        acc = net.accuracy(data["x_test"], data["y_test"])
        c = net.import_check
        print(f"{name}: numpy test accuracy {numpy_acc:.4f}; xbarsim Network from the .onnx {acc:.4f} "
              f"(ternary: {net.is_ternary}); vs {c.runtime if c else 'no runtime'}: max |difference| "
              f"{c.max_abs if c else float('nan'):.2e}")
    print(f"wrote {args.out}/digits_cnn.onnx, digits_cnn_ternary.onnx and digits_1000.npz")


if __name__ == "__main__":
    main()
