"""A direct convolution by loops: the oracle the conv-as-matrix path is checked against."""

from __future__ import annotations

import numpy as np


def direct_conv(x, w, b, stride, pads, dilation):
    """Cross-correlation by explicit loops over every output position (the oracle)."""
    n, c, h, wd = x.shape
    co, ci, kh, kw = w.shape
    t, left, bot, r = pads
    xp = np.zeros((n, c, h + t + bot, wd + left + r))
    xp[:, :, t:t + h, left:left + wd] = x
    ho = (h + t + bot - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + left + r - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, co, ho, wo))
    for i in range(ho):
        for j in range(wo):
            for p in range(kh):
                for q in range(kw):
                    patch = xp[:, :, i * stride[0] + p * dilation[0], j * stride[1] + q * dilation[1]]  # (n, c)
                    out[:, :, i, j] += patch @ w[:, :, p, q].T
    return out + (0 if b is None else b[None, :, None, None])
