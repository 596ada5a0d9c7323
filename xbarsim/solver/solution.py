"""The result of a solve: fixed fields, SI units, same shape whatever backend produced it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Generic, Protocol, TypeVar, overload

import numpy as np
import scipy.sparse as sp

from xbarsim._typing import FloatArray, IntArray
from xbarsim._validation import readonly, short_repr
from xbarsim.errors import BackendError, ConfigError
from xbarsim.netlists.netlist import Netlist
from xbarsim.solver._grid import GridLayout, grid_layout

__all__ = ["FIELDS", "Solution", "element_arrays", "incidence", "solution_from_voltages", "solution_from_ports"]


#: Every array/number field of a :class:`Solution`, in the order of its docstring.
FIELDS = ("output_currents", "input_currents", "row_voltages", "col_voltages", "cell_voltages", "cell_currents",
          "node_voltages", "source_currents", "power", "kcl_residual")
#: Fields that need only the currents at the sources (cheap); the others need every node voltage.
_PORT_FIELDS = ("output_currents", "input_currents", "source_currents", "power")


_T = TypeVar("_T")


class FieldSource(Protocol):
    """What computes a lazy :class:`Solution`'s fields: ``_Fields`` (from a netlist's node voltages)
    or the grid-native path's fields (:mod:`xbarsim.solver.gridpath`, from the crossbar's arrays)."""

    index: IntArray

    @property
    def batched(self) -> bool: ...

    @property
    def shape(self) -> tuple[int, int]: ...

    def ports(self) -> dict[str, object]: ...

    def nodes(self) -> dict[str, object]: ...

    def subset(self, idx: IntArray, single: bool) -> FieldSource: ...


class _Field(Generic[_T]):
    """A :class:`Solution` field, computed on first access and then kept."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _Field[_T]: ...

    @overload
    def __get__(self, obj: Solution, objtype: type | None = None) -> _T: ...

    def __get__(self, obj: Solution | None, objtype: type | None = None) -> _T | _Field[_T]:
        if obj is None:
            return self
        return obj._get(self.name)  # type: ignore[return-value]


class Solution:
    """Operating point(s) of a crossbar circuit.

    Shapes drop the leading batch axis ``B`` when the bias was not batched. Currents are in ampere,
    voltages in volt, power in watt. Fields are computed on first access and then kept (read-only
    arrays): a batched read answered through the port matrix never forms the ``(B, M, N)`` arrays
    unless they are asked for, and :meth:`select` computes them for chosen batch entries only.
    Lazy and eager values are the same numbers (tested to 1e-12).

    Attributes
    ----------
    output_currents : ndarray, shape (N,) or (B, N)
        Current flowing from each column's driven end(s) into its sense node (summed over both ends
        if both are driven); positive when row voltages are positive in a read.
    input_currents : ndarray, shape (M,) or (B, M)
        Current delivered by each row's driver(s) into the row.
    row_voltages, col_voltages : ndarray, shape (M, N) or (B, M, N)
        Voltage of row node / column node ``(i, j)`` with respect to ground.
    cell_voltages : ndarray, shape (M, N) or (B, M, N)
        Row minus column voltage across each cell.
    cell_currents : ndarray, shape (M, N) or (B, M, N)
        Current through each cell, positive from row to column.
    node_voltages : ndarray, shape (n_nodes,) or (B, n_nodes)
        Every netlist node (see :class:`~xbarsim.netlists.Netlist` for names).
    source_currents : ndarray, shape (S,) or (B, S)
        Current delivered into the circuit by each source (one per driven line end).
    power : float or ndarray, shape (B,)
        Total power delivered by the sources (= dissipated in wires and cells).
    kcl_residual : float
        KCL backward error: the largest, over non-fixed nodes and batch entries, of the node's net
        current divided by the sum of ``|g| (|v_a| + |v_b|)`` over the elements at that node (the
        terms that cancel; node scales floored at 1e-20 of the largest). Computed from the element
        laws, independent of how the backend solved; an exact solve gives a few machine epsilons.
    backend : str
        Name of the backend that produced the result.
    method : str
        What ran: ``"direct"``, ``"iterative"``, ``"newton"``, ``"port-matrix"``, ``"ngspice"``, ...
    iterations : int
        CG iterations (largest over the batch) or Newton iterations; 0 for a direct linear solve.
    timings : Mapping[str, float]
        Seconds spent per phase (``"assemble"``, ``"factor"``, ``"solve"``, ``"total"``, ...); the
        cost of fields computed later on access is not included.
    """

    FIELDS = FIELDS
    __slots__ = ("_values", "_source", "backend", "method", "iterations", "timings")
    _values: dict[str, object]
    _source: FieldSource | None
    backend: str
    method: str
    iterations: int
    timings: Mapping[str, float]

    def __init__(self, *, output_currents: FloatArray, input_currents: FloatArray, row_voltages: FloatArray,
                 col_voltages: FloatArray, cell_voltages: FloatArray, cell_currents: FloatArray,
                 node_voltages: FloatArray, source_currents: FloatArray, power: FloatArray | float,
                 kcl_residual: float, backend: str, method: str, iterations: int,
                 timings: Mapping[str, float] | None = None) -> None:
        values: dict[str, object] = dict(output_currents=output_currents, input_currents=input_currents, row_voltages=row_voltages,
                      col_voltages=col_voltages, cell_voltages=cell_voltages, cell_currents=cell_currents,
                      node_voltages=node_voltages, source_currents=source_currents, power=power,
                      kcl_residual=kcl_residual)
        self._init(values, None, backend, method, iterations, timings or {})

    def _init(self, values: dict[str, object], source: FieldSource | None, backend: str, method: str,
              iterations: int, timings: Mapping[str, float]) -> None:
        for k, x in values.items():
            values[k] = _frozen(x)
        setter = object.__setattr__
        setter(self, "_values", values)
        setter(self, "_source", source)
        setter(self, "backend", backend)
        setter(self, "method", method)
        setter(self, "iterations", int(iterations))
        setter(self, "timings", MappingProxyType(dict(timings)))

    @classmethod
    def _deferred(cls, source: FieldSource, *, backend: str, method: str, iterations: int,
                  timings: Mapping[str, float]) -> Solution:
        """A solution whose fields ``source`` computes on first access."""
        sol = cls.__new__(cls)
        sol._init({}, source, backend, method, iterations, timings)
        return sol

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Solution is immutable; cannot set {name!r}")

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        """Pickle (and deep-copy) as an eager solution: every field is computed first."""
        values = {name: self._get(name) for name in FIELDS}
        return (_eager, (values, self.backend, self.method, self.iterations, dict(self.timings)))

    def _get(self, name: str) -> object:
        values = self._values
        if name not in values:
            assert self._source is not None
            group = self._source.ports() if name in _PORT_FIELDS else self._source.nodes()
            for k, x in group.items():
                values.setdefault(k, _frozen(x))
        return values[name]

    # ------------------------------------------------------------ fields (see the class docstring)
    output_currents = _Field[FloatArray]()
    input_currents = _Field[FloatArray]()
    row_voltages = _Field[FloatArray]()
    col_voltages = _Field[FloatArray]()
    cell_voltages = _Field[FloatArray]()
    cell_currents = _Field[FloatArray]()
    node_voltages = _Field[FloatArray]()
    source_currents = _Field[FloatArray]()
    power = _Field["FloatArray | float"]()
    kcl_residual = _Field[float]()

    @property
    def batched(self) -> bool:
        """Whether the fields carry a leading batch axis."""
        if self._source is not None:
            return self._source.batched
        return np.ndim(self.power) == 1

    @property
    def batch_size(self) -> int:
        """Number of operating points (1 when not batched)."""
        if self._source is not None:
            return self._source.index.size
        return int(np.size(self.power))

    @property
    def shape(self) -> tuple[int, int]:
        """``(M, N)`` of the crossbar."""
        if self._source is not None:
            return self._source.shape
        return (int(np.shape(self.input_currents)[-1]), int(np.shape(self.output_currents)[-1]))

    def with_timings(self, timings: Mapping[str, float]) -> Solution:
        """The same solution (sharing computed fields) with other ``timings``."""
        sol = Solution.__new__(Solution)
        sol._init(self._values, self._source, self.backend, self.method, self.iterations, timings)
        return sol

    def select(self, index: int | Sequence[int] | IntArray) -> Solution:
        """The batch entries ``index`` as their own solution: an int gives an unbatched solution,
        a sequence a batched one. Only those entries are computed when a field is accessed."""
        if not self.batched:
            raise ConfigError("`select` needs a batched solution; this one has no batch axis.")
        bsz = self.batch_size
        single = isinstance(index, int | np.integer) and not isinstance(index, bool)
        idx = np.atleast_1d(np.asarray(index))
        if idx.dtype.kind not in "iu" or idx.ndim != 1 or idx.size == 0 or (idx < -bsz).any() or (idx >= bsz).any():
            raise ConfigError(f"`index` must be an int or a non-empty 1-D sequence of ints in [-{bsz}, {bsz}); "
                              f"got {short_repr(index)}.")
        idx = np.where(idx < 0, idx + bsz, idx).astype(np.int64)
        if self._source is not None:
            return Solution._deferred(self._source.subset(idx, single), backend=self.backend, method=self.method,
                                      iterations=self.iterations, timings=self.timings)
        values: dict[str, object] = {}
        for name in FIELDS:
            x = self._values[name]
            values[name] = x if name == "kcl_residual" else (np.asarray(x)[idx[0]] if single else np.asarray(x)[idx])
        if single:
            values["power"] = float(values["power"])  # type: ignore[arg-type]
        return Solution(**values, backend=self.backend, method=self.method,  # type: ignore[arg-type]
                        iterations=self.iterations, timings=self.timings)

    def __repr__(self) -> str:
        m, n = self.shape
        batch = f", batch={self.batch_size}" if self.batched else ""
        out = np.abs(np.asarray(self.output_currents))
        return (f"<Solution {m}x{n}{batch} backend={self.backend!r} method={self.method!r} "
                f"iterations={self.iterations} max|I_out|={float(out.max(initial=0.0)):.4g} A "
                f"power={float(np.sum(self.power)):.4g} W>")

    def report(self) -> str:
        """A short text table: what ran, and the range of every current and voltage field.

        Computes every field (for a large batch, :meth:`select` a few entries first)."""
        m, n = self.shape
        lines = [f"Solution of a {m}x{n} crossbar" + (f", {self.batch_size} operating points" if self.batched else ""),
                 f"backend {self.backend}, method {self.method}, {self.iterations} iterations, "
                 f"KCL residual {self.kcl_residual:.2e}",
                 f"{'field':<16} {'unit':<4} {'min':>12} {'max':>12} {'max |x|':>12}"]
        for name in FIELDS[:-1]:
            x = np.asarray(self._get(name), dtype=float)
            unit = "W" if name == "power" else ("V" if name.endswith("voltages") else "A")
            lo, hi = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
            lines.append(f"{name:<16} {unit:<4} {lo:>12.4e} {hi:>12.4e} {float(np.abs(x).max(initial=0.0)):>12.4e}")
        if "total" in self.timings:
            lines.append(f"solve time {self.timings['total'] * 1e3:.2f} ms")
        return "\n".join(lines)


def _eager(values: dict[str, object], backend: str, method: str, iterations: int,
           timings: dict[str, float]) -> Solution:
    return Solution(**values, backend=backend, method=method, iterations=iterations,  # type: ignore[arg-type]
                    timings=timings)


def _frozen(x: object) -> object:
    return readonly(x) if isinstance(x, np.ndarray) else x


def element_arrays(netlist: Netlist) -> tuple[np.ndarray, np.ndarray]:
    """Node pairs ``(E, 2)`` of all two-terminal elements: resistors first, then the ``M*N`` cells."""
    cells = np.stack([netlist.row_node.ravel(), netlist.col_node.ravel()], axis=1)
    nodes = np.concatenate([netlist.resistor_nodes, cells], axis=0)
    return nodes[:, 0], nodes[:, 1]


def incidence(netlist: Netlist) -> sp.csr_matrix:
    """Node-by-element incidence ``D`` (+1 at the first node, -1 at the second): ``D @ i`` is the net
    current leaving each node through the elements."""
    a, b = element_arrays(netlist)
    e = a.size
    cols = np.concatenate([np.arange(e), np.arange(e)])
    vals = np.concatenate([np.ones(e), -np.ones(e)])
    return sp.csr_matrix((vals, (np.concatenate([a, b]), cols)), shape=(netlist.n_nodes, e))


def _resistor_ends(netlist: Netlist, layout: GridLayout | None, v: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Voltages ``(B, K)`` at the first and the second node of every resistor."""
    if layout is None:
        return v[:, netlist.resistor_nodes[:, 0]], v[:, netlist.resistor_nodes[:, 1]]
    m, n = netlist.shape
    bsz = v.shape[0]
    row = v[:, :m * n].reshape(bsz, m, n)
    col = v[:, m * n:2 * m * n].reshape(bsz, m, n)
    va = np.concatenate([row[:, :, :-1].reshape(bsz, -1), col[:, :-1].reshape(bsz, -1), v[:, 2 * m * n:]], axis=1)
    vb = np.concatenate([row[:, :, 1:].reshape(bsz, -1), col[:, 1:].reshape(bsz, -1), v[:, layout.src_attach]], axis=1)
    return va, vb


#: ``voltages(index)`` -> node voltages ``(len(index), n_nodes)`` of the chosen batch entries.
VoltageSource = Callable[[IntArray], FloatArray]


def solution_from_voltages(
    netlist: Netlist,
    node_voltages: FloatArray,
    *,
    backend: str,
    method: str,
    iterations: int,
    timings: Mapping[str, float],
    source_currents: FloatArray | None = None,
    node_map: IntArray | None = None,
) -> Solution:
    """A :class:`Solution` from node voltages ``(B, n_nodes)`` using the element laws.

    Source currents are obtained by KCL at the fixed nodes unless the backend measured them
    (``source_currents``, shape ``(B, S)``). Sources shorted onto one node by ideal wires share the
    node's current equally (the split between ideal sources in parallel is undetermined). The
    source-side fields are computed (and checked finite) now; the per-cell fields on first access.
    ``node_map`` (for a backend that solved a reduced circuit, e.g. every wire shorted):
    ``netlist`` is that reduced circuit, and ``node_voltages`` reports node ``k`` of the original
    netlist at ``v[:, node_map[k]]``; every other field, the KCL residual included, is that of
    the reduced circuit.
    """
    v = np.asarray(node_voltages, dtype=np.float64)
    src = None if source_currents is None else np.asarray(source_currents, dtype=np.float64).reshape(v.shape[0], -1)
    fields = _Fields(netlist, backend, lambda idx: v[idx],
                     None if src is None else (lambda idx: src[idx]), node_map=node_map)
    fields.check_voltages(v)
    fields.ports()
    return Solution._deferred(fields, backend=backend, method=method, iterations=iterations, timings=timings)


def solution_from_ports(
    netlist: Netlist,
    source_currents: FloatArray,
    voltages: VoltageSource,
    *,
    backend: str,
    method: str,
    iterations: int,
    timings: Mapping[str, float],
) -> Solution:
    """A :class:`Solution` from the source currents ``(B, S)`` of every batch entry, with node
    voltages computed by ``voltages(index)`` only when a per-node field is asked for."""
    src = np.asarray(source_currents, dtype=np.float64)
    fields = _Fields(netlist, backend, voltages, lambda idx: src[idx])
    fields.ports()
    return Solution._deferred(fields, backend=backend, method=method, iterations=iterations, timings=timings)


class _Fields:
    """Computes the fields of batch entries ``index`` of ``netlist``'s operating points from the
    element laws (``single``: drop the batch axis). Node voltages come from ``voltages``, source
    currents from ``currents`` if given, else by KCL at the source nodes."""

    def __init__(self, netlist: Netlist, backend: str, voltages: VoltageSource,
                 currents: VoltageSource | None, index: IntArray | None = None, single: bool | None = None,
                 node_map: IntArray | None = None) -> None:
        self.netlist = netlist
        self.node_map = node_map
        self.backend = backend
        self.index = np.arange(netlist.batch_size) if index is None else index
        self.single = (not netlist.batched) if single is None else single
        self._voltages = voltages
        self._currents = currents
        self._v: FloatArray | None = None
        self._ports: dict[str, object] | None = None

    @property
    def batched(self) -> bool:
        return not self.single

    @property
    def shape(self) -> tuple[int, int]:
        return self.netlist.shape

    def subset(self, idx: IntArray, single: bool) -> _Fields:
        return _Fields(self.netlist, self.backend, self._voltages, self._currents, self.index[idx], single,
                       self.node_map)

    def _squeeze(self, x: FloatArray) -> FloatArray:
        return x[0] if self.single else x

    def voltages(self) -> FloatArray:
        if self._v is None:
            v = np.asarray(self._voltages(self.index), dtype=np.float64)
            self.check_voltages(v)
            self._v = v
        return self._v

    def check_voltages(self, v: FloatArray) -> None:
        if not np.isfinite(v).all():
            self._fail(["node_voltages"], v)

    def _fail(self, bad: list[str], v: FloatArray | None) -> None:
        netlist = self.netlist
        vmax = float(np.abs(netlist.source_voltage).max(initial=0.0))
        gmax = max(float(netlist.conductance.max(initial=0.0)), float((1.0 / netlist.resistor_values).max(initial=0.0)))
        if v is not None and not np.isfinite(v).all() and vmax * gmax < 1e100:
            raise BackendError(f"backend {self.backend!r} returned non-finite node voltages")
        raise ConfigError(
            f"the operating point overflows double precision ({', '.join(bad)} not finite): the largest source "
            f"voltage is {vmax:.3g} V and the largest conductance {gmax:.3g} S. Use physical magnitudes."
        )

    def ports(self) -> dict[str, object]:
        """``source_currents``, ``input_currents``, ``output_currents``, ``power``."""
        if self._ports is not None:
            return self._ports
        netlist = self.netlist
        m, n = netlist.shape
        with np.errstate(all="ignore"):
            if self._currents is not None:
                src = np.asarray(self._currents(self.index), dtype=np.float64).reshape(self.index.size, -1)
            else:
                src = _source_currents(netlist, self.voltages())
            bsz = src.shape[0]
            is_row = netlist.source_end < 2
            i_in = np.zeros((bsz, m))
            i_out = np.zeros((bsz, n))
            np.add.at(i_in.T, netlist.source_line[is_row], src[:, is_row].T)  # .T: views, the sums land
            np.add.at(i_out.T, netlist.source_line[~is_row], -src[:, ~is_row].T)
            power = (netlist.source_voltage[self.index] * src).sum(axis=1)
        out = {"source_currents": src, "input_currents": i_in, "output_currents": i_out, "power": power}
        bad = [k for k, x in out.items() if not np.isfinite(x).all()]
        if bad:
            self._fail(bad, None)
        self._ports = {k: self._squeeze(x) for k, x in out.items()}
        self._ports["power"] = float(power[0]) if self.single else power
        return self._ports

    def nodes(self) -> dict[str, object]:
        """Every per-node and per-cell field and the KCL residual (the ports are computed too)."""
        v = self.voltages()
        with np.errstate(all="ignore"):
            out, _ = _node_fields(self.netlist, v)
        if self.node_map is not None:
            out["node_voltages"] = v[:, self.node_map]
        bad = [k for k in ("cell_currents",) if not np.isfinite(out[k]).all()]
        if bad:
            self._fail(bad, v)
        res: dict[str, object] = {k: (x if k == "kcl_residual" else self._squeeze(x)) for k, x in out.items()}  # type: ignore[arg-type]
        res.update(self.ports())
        return res


def _source_currents(netlist: Netlist, v: FloatArray) -> FloatArray:
    """Current each source delivers, ``(B, S)``, by KCL at the source nodes only (the elements that
    touch a source node; sources shorted onto one node share its current equally)."""
    layout = grid_layout(netlist)
    mn = netlist.shape[0] * netlist.shape[1]
    if layout is not None:  # source s is node 2MN + s, behind exactly one resistor
        s = layout.src_g.size
        r_src = netlist.resistor_values[netlist.resistor_values.size - s:]
        return (v[:, 2 * mn:] - v[:, layout.src_attach]) / r_src
    nn = netlist.n_nodes
    is_src = np.zeros(nn, dtype=bool)
    is_src[netlist.source_node] = True
    a, b = element_arrays(netlist)
    touch = np.flatnonzero(is_src[a] | is_src[b])
    n_res = netlist.resistor_values.size
    res, cell = touch[touch < n_res], touch[touch >= n_res] - n_res
    i_res = (v[:, a[res]] - v[:, b[res]]) / netlist.resistor_values[res]
    g = netlist.conductance.ravel()[cell]
    i_cell = np.asarray(netlist.device.current(v[:, a[cell + n_res]] - v[:, b[cell + n_res]], g), dtype=np.float64)
    ends_a = np.concatenate([a[res], a[cell + n_res]])
    ends_b = np.concatenate([b[res], b[cell + n_res]])
    cur = np.concatenate([i_res, i_cell], axis=1)
    net = np.stack([np.bincount(ends_a, weights=x, minlength=nn) - np.bincount(ends_b, weights=x, minlength=nn)
                    for x in cur]) if cur.shape[0] else np.zeros((0, nn))
    share = np.bincount(netlist.source_node, minlength=nn)[netlist.source_node]
    return net[:, netlist.source_node] / share


def _node_fields(netlist: Netlist, v: FloatArray) -> tuple[dict[str, FloatArray | float], FloatArray]:
    """Per-node and per-cell fields of node voltages ``v`` ``(B, n_nodes)``, the KCL residual, and
    the net current leaving every node ``(B, n_nodes)``."""
    m, n = netlist.shape
    bsz = v.shape[0]
    layout = grid_layout(netlist)
    if layout is None:
        vr = v[:, netlist.row_node]
        vc = v[:, netlist.col_node]
    else:  # node k is grid node k: slices instead of gathers
        vr = v[:, :m * n].reshape(bsz, m, n)
        vc = v[:, m * n:2 * m * n].reshape(bsz, m, n)
    vcell = vr - vc
    icell = np.asarray(netlist.device.current(vcell, netlist.conductance), dtype=np.float64)
    va, vb = _resistor_ends(netlist, layout, v)
    ires = (va - vb) / netlist.resistor_values
    i_elem = np.concatenate([ires, icell.reshape(bsz, m * n)], axis=1)
    ends = element_arrays(netlist) if layout is None else None
    nn = netlist.n_nodes

    inc: dict[float, sp.csr_matrix] = {}

    def at_nodes(x: FloatArray, sign: float) -> FloatArray:
        """Sum element quantities ``x`` (B, E) onto their first node plus ``sign`` times onto the second."""
        if layout is not None:
            return layout.at_nodes(x, sign)
        assert ends is not None
        a, b = ends
        if x.shape[0] <= 4:  # bincount beats building a sparse matrix for a few rows
            return np.stack([np.bincount(a, weights=xb, minlength=nn) + sign * np.bincount(b, weights=xb, minlength=nn)
                             for xb in x])
        if sign not in inc:
            e = a.size
            inc[sign] = sp.csr_matrix((np.concatenate([np.ones(e), np.full(e, sign)]),
                                       (np.concatenate([a, b]), np.concatenate([np.arange(e), np.arange(e)]))),
                                      shape=(nn, e))
        return np.asarray((inc[sign] @ x.T).T)

    net = at_nodes(i_elem, -1.0)  # (B, n_nodes) current leaving each node
    # Componentwise backward error of KCL: each node's net current relative to the sum of the
    # |g| (|v_a| + |v_b|) terms that cancel in it. A backward-stable solve gives a few eps; a wrong
    # one gives O(1). (Normalising by the largest current instead would report ~1e-12 for exact
    # solutions, because wire conductances exceed cell conductances by 1e4-1e6.)
    g_cell = np.asarray(netlist.device.conductance(vcell, netlist.conductance), dtype=np.float64)
    s_res = (np.abs(va) + np.abs(vb)) / netlist.resistor_values
    s_cell = np.abs(g_cell) * (np.abs(vr) + np.abs(vc)) + np.abs(icell)
    scale = at_nodes(np.concatenate([s_res, s_cell.reshape(bsz, m * n)], axis=1), 1.0)
    unknown: np.ndarray | slice
    if layout is None:
        is_unknown = np.ones(netlist.n_nodes, dtype=bool)
        is_unknown[netlist.source_node] = False
        unknown = is_unknown
    else:  # the sources hold the nodes after the grid
        unknown = slice(0, 2 * m * n)
    # Node scales are floored at 1e-20 of the largest: a node whose terms are that much smaller than
    # the circuit's carries no physical information (and subnormal voltages would make it noise).
    denom = np.maximum(scale[:, unknown], 1e-20 * scale.max(initial=0.0))
    net_u = np.abs(net[:, unknown])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(denom > 0, net_u / denom, net_u)
    kcl = float(ratio.max()) if ratio.size else 0.0
    fields: dict[str, FloatArray | float] = {
        "row_voltages": vr, "col_voltages": vc, "cell_voltages": vcell, "cell_currents": icell,
        "node_voltages": v, "kcl_residual": kcl}
    return fields, net
