"""Loaders for the measured device data shipped with xbarsim (``xbarsim/devices/data``).

Two published data releases are shipped, each file unchanged except for being placed flat in one
folder (provenance, license and units of every file: ``xbarsim/devices/data/README.md``):

* LEA -- Yousuf et al., "Layer Ensemble Averaging for Improving Memristor-Based Artificial Neural
  Network Performance", arXiv:2404.15621 (Nat. Commun. 16, 1250, 2025); data release
  ADAM-Lab-GW/layer-ensemble-averaging (BSD-3-Clause). 1T1R ReRAM chip, kernels of 25 x 25 devices,
  read at 0.3 V.
* Drolet -- Drolet et al., "Hardware-aware training techniques for improving robustness of ex-situ
  neural network transfer onto passive TiO2 ReRAM crossbars", arXiv:2305.18495 (2023); code release
  3it-inpaqt/Hardware-Aware-Article (MIT). Passive 8 x 8 TiO2 crossbars, 100-500 uS window.

Every loader returns SI units (siemens, ohm, volt, ampere) and read-only arrays.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import numpy as np

from xbarsim._typing import FloatArray, IntArray
from xbarsim._validation import readonly
from xbarsim.errors import ConfigError, FileFormatError

__all__ = [
    "LEA_KERNELS",
    "DROLET_FAILURE_MAPS",
    "IVCurve",
    "FailureMap",
    "DisturbanceStats",
    "lea_kernel_map",
    "lea_kernel17_multibit",
    "lea_iv_curves",
    "drolet_failure_maps",
    "drolet_disturbance_stats",
    "drolet_disturbance_samples",
]

#: Kernel indices whose read-back conductance maps are shipped (greedy mapping, alpha = beta = 4).
LEA_KERNELS: tuple[int, ...] = (0, 2, 3, 9, 10, 11, 16, 17, 18, 19, 24, 25, 27)

#: Names (die and crossbar identifiers) of the shipped Drolet failure maps, in load order.
DROLET_FAILURE_MAPS: tuple[str, ...] = ("P464EC_HD", "P464EC_TD", "P464EC_TG", "P464ED_BG", "P464ED_HD")

#: Number of I-V sweep cycles per polarity in the LEA device characterization (Fig. 3c).
_LEA_IV_CYCLES = 19

Polarity = Literal["positive", "negative"]


def _data_text(name: str) -> str:
    return (resources.files("xbarsim.devices") / "data" / name).read_text(encoding="utf-8")


def _damaged(name: str, exc: Exception) -> FileFormatError:
    return FileFormatError(f"shipped data file {name} (xbarsim/devices/data) is damaged: {type(exc).__name__}: {exc}")


def _parse_matrix(name: str, text: str, *, shape: tuple[int, int] | None = None) -> FloatArray:
    """Whitespace-separated numbers, one matrix row a line; FileFormatError naming ``name`` if it is not."""
    try:
        rows = [line.split() for line in text.splitlines() if line.strip()]
        out = np.array(rows, dtype=np.float64)
        if out.ndim != 2 or out.size == 0:
            raise ValueError(f"not a rectangular table of numbers (array shape {out.shape})")
        if shape is not None and out.shape != shape:
            raise ValueError(f"expected shape {shape}, read {out.shape}")
    except ValueError as exc:
        raise _damaged(name, exc) from None
    return out


def _load_matrix(name: str, *, shape: tuple[int, int] | None = None) -> FloatArray:
    return _parse_matrix(name, _data_text(name), shape=shape)


@dataclass(frozen=True, kw_only=True, eq=False)
class IVCurve:
    """One measured quasi-static I-V sweep of one LEA device.

    Attributes
    ----------
    polarity : {"positive", "negative"}
        ``"positive"`` sweeps 0 -> about +1.05 V -> 0 and RESETs the device (it starts in the low
        resistance state); ``"negative"`` sweeps 0 -> about -2.35 V -> 0 and SETs it.
    cycle : int
        Cycle number, 1 to 19.
    voltage : ndarray, shape (n,)
        Volt, applied voltage in measurement order.
    current : ndarray, shape (n,)
        Ampere, measured current. Its sign follows the voltage's except at a few points per sweep
        (0-9 of a positive sweep, 11-25 of a negative one) where ``|I|`` is at most 2.2 uA, the noise
        floor.
    """

    polarity: Polarity
    cycle: int
    voltage: FloatArray
    current: FloatArray

    def __post_init__(self) -> None:
        object.__setattr__(self, "voltage", readonly(np.asarray(self.voltage, dtype=np.float64)))
        object.__setattr__(self, "current", readonly(np.asarray(self.current, dtype=np.float64)))

    @property
    def turning_index(self) -> int:
        """Index of the sweep's extreme voltage: ``voltage[:turning_index + 1]`` is the outgoing branch."""
        return int(np.argmax(np.abs(self.voltage)))


@dataclass(frozen=True, kw_only=True, eq=False)
class FailureMap:
    """One measured 8 x 8 resistance map of a Drolet TiO2 crossbar after write-verify programming.

    Attributes
    ----------
    name : str
        Die and crossbar identifier, e.g. ``"P464EC_HD"`` (file ``dead_xbar_<name>.csv``).
    resistance : ndarray, shape (8, 8)
        Ohm, read resistance of every device. Values far above the 10 kOhm HRS (hundreds of kOhm to
        MOhm) mark devices that failed to program: 22 in P464EC_HD and 7 in P464EC_TD read above
        100 kOhm, the others none (P464EC_TG tops at 32.5 kOhm). Many devices also read below the
        2 kOhm LRS: 22 to 64 per map, down to 136 Ohm (all 64 of P464ED_HD read 136-724 Ohm).
    settings : dict of str to float
        Programming settings from the file header, as written there: ``n_rows``, ``n_columns``,
        ``DC_NUMPOINTS``, ``vread`` (V), ``Vmax_set``/``Vmin_reset`` (V), ``Vset``/``Vreset`` (V, start
        voltages), ``tolerance`` (fraction), ``increment`` (V), ``PulseWidth``/``RiseTime``/``FallTime`` (s).
    """

    name: str
    resistance: FloatArray
    settings: dict[str, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "resistance", readonly(np.asarray(self.resistance, dtype=np.float64)))
        object.__setattr__(self, "settings", dict(self.settings))

    @property
    def conductance(self) -> FloatArray:
        """Siemens, ``1 / resistance``."""
        return 1.0 / self.resistance

    @property
    def read_voltage(self) -> float:
        """Volt, the read voltage of the map (header field ``vread``)."""
        return float(self.settings["vread"])


@dataclass(frozen=True, kw_only=True, eq=False)
class DisturbanceStats:
    """Half-select programming disturbance measured on the Drolet TiO2 crossbars.

    Conductance change of an already-programmed device as a function of how many devices of the
    same array were programmed after it.

    Attributes
    ----------
    n_subsequent : ndarray of int, shape (k,)
        Number of devices programmed after the observed one.
    mean_dg : ndarray, shape (k,)
        Siemens, mean conductance change (NaN where ``n_samples`` is 0).
    std_dg : ndarray, shape (k,)
        Siemens, standard deviation of the conductance change (NaN where ``n_samples`` is 0).
    n_samples : ndarray of int, shape (k,)
        Number of observations behind each row.
    """

    n_subsequent: IntArray
    mean_dg: FloatArray
    std_dg: FloatArray
    n_samples: IntArray

    def __post_init__(self) -> None:
        for name in ("n_subsequent", "n_samples"):
            object.__setattr__(self, name, readonly(np.asarray(getattr(self, name), dtype=np.int64)))
        for name in ("mean_dg", "std_dg"):
            object.__setattr__(self, name, readonly(np.asarray(getattr(self, name), dtype=np.float64)))


def lea_kernel_map(k: int) -> FloatArray:
    """Read-back conductance map of one LEA chip kernel.

    Parameters
    ----------
    k : int
        Kernel index, one of :data:`LEA_KERNELS`.

    Returns
    -------
    ndarray, shape (25, 25)
        Siemens, read at 0.3 V (file ``greedy_simple_alpha4_beta4_kernel{k}.txt`` of the LEA data
        release: the kernels used by the greedy alpha = beta = 4 mapping). Stuck-ON devices read
        around 500 uS or more; values near or below zero (below 10 uS, down to -13 uS) are stuck-OFF
        devices, 306 in the 13 maps: in one or two columns per kernel (15 to 24 of such a column's 25
        devices; one more device in kernel 24), none in kernels 9, 17 and 25.
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or int(k) not in LEA_KERNELS:
        raise ConfigError(f"`k` must be one of the shipped LEA kernels {LEA_KERNELS}; got {k!r}.")
    return readonly(_load_matrix(f"greedy_simple_alpha4_beta4_kernel{int(k)}.txt", shape=(25, 25)))


def lea_kernel17_multibit() -> FloatArray:
    """Conductance map of LEA kernel 17 after random 4-level programming (paper Fig. 3d).

    Returns
    -------
    ndarray, shape (25, 25)
        Siemens. The file ``conductance_map_multibit_k17.txt`` stores units of 1e-12 S; this loader
        converts to siemens. Targets were 133, 167, 200 and 233 uS; 27 of the 625 devices read above
        300 uS (stuck-ON, 4.3 %).
    """
    return readonly(_load_matrix("conductance_map_multibit_k17.txt", shape=(25, 25)) * 1e-12)


def lea_iv_curves(polarity: Polarity | None = None) -> tuple[IVCurve, ...]:
    """The 2 x 19 quasi-static I-V sweeps of one LEA device (paper Fig. 3c).

    Parameters
    ----------
    polarity : {"positive", "negative"} or None
        Only the sweeps of this polarity; ``None`` (default) returns both, positive first.

    Returns
    -------
    tuple of IVCurve
        Ordered by polarity, then cycle 1..19. Files ``iv_{positive,negative}_cycle{n}.txt``
        (columns V in volt, I in ampere).
    """
    if polarity is None:
        pols: tuple[Polarity, ...] = ("positive", "negative")
    elif polarity in ("positive", "negative"):
        pols = (polarity,)
    else:
        raise ConfigError(f"`polarity` must be 'positive', 'negative' or None; got {polarity!r}.")
    out = []
    for pol in pols:
        for cycle in range(1, _LEA_IV_CYCLES + 1):
            name = f"iv_{pol}_cycle{cycle}.txt"
            data = _load_matrix(name)
            if data.shape[1] != 2:
                raise _damaged(name, ValueError(f"expected 2 columns (V, I), read {data.shape[1]}"))
            out.append(IVCurve(polarity=pol, cycle=cycle, voltage=data[:, 0], current=data[:, 1]))
    return tuple(out)


def _parse_failure_map(name: str, text: str) -> FailureMap:
    try:
        lines = [line for line in text.splitlines() if line.strip()]
        if len(lines) < 3:
            raise ValueError(f"expected 3 lines (setting names, their values, resistances), read {len(lines)}")
        keys = [s.strip() for s in lines[0].split(";") if s.strip()]
        values = [float(s) for s in lines[1].split(";") if s.strip()]
        settings = dict(zip(keys, values, strict=True))
        if "n_rows" not in settings or "n_columns" not in settings:
            raise ValueError("the header lacks n_rows / n_columns")
        data = np.array([float(s) for line in lines[2:] for s in line.split(";") if s.strip()])
        shape = (int(settings["n_rows"]), int(settings["n_columns"]))
        resistance = data.reshape(shape)
    except ValueError as exc:
        raise _damaged(f"dead_xbar_{name}.csv", exc) from None
    return FailureMap(name=name, resistance=resistance, settings=settings)


def drolet_failure_maps() -> tuple[FailureMap, ...]:
    """The five measured 8 x 8 resistance maps of Drolet TiO2 crossbars after write-verify programming.

    Returns
    -------
    tuple of FailureMap
        In the order of :data:`DROLET_FAILURE_MAPS`. Resistances in ohm; the header of each file
        (files ``dead_xbar_*.csv``) holds the programming settings: read 0.2 V, SET from 1.1 V and
        RESET from -1.1 V in 20-50 mV steps, 1 % tolerance, pulses of 0.8-2 us.
    """
    return tuple(_parse_failure_map(name, _data_text(f"dead_xbar_{name}.csv")) for name in DROLET_FAILURE_MAPS)


def drolet_disturbance_samples() -> dict[int, FloatArray]:
    """The measured half-select disturbance samples of the Drolet TiO2 crossbars, per ``n``.

    Returns
    -------
    dict of int to ndarray
        ``n`` (devices programmed after the disturbed one, 1..59) -> read-only array of the
        measured conductance changes (S; empty for n = 55..59, the table's rows without samples),
        which the authors' code samples from
        (``drift_dicts/delta_dicts.pkl``, ``random.choice`` per device).

    Notes
    -----
    In the authors' release these samples and the moments of :func:`drolet_disturbance_stats`
    (``mu_`` / ``sigma_delta_dicts.pkl``) agree only from ``n = 45`` on (and at 43). For ``n <= 44``
    the sample counts are equal but the samples' means are 0.57-0.90 times the table's at n <= 37,
    and their standard deviations 0.73-0.96 times at n <= 44 (n = 30: -7.70 / 18.46 uS against -11.20 / 21.65
    uS): the release's two files, not a conversion of ours (both are byte-faithful). Their code
    draws values from these samples and uses the table's sigma only for its 4-sigma outlier rule.
    """
    return _parse_disturbance_samples(_data_text("biasing_disturbance_samples_S.json"))


def _parse_disturbance_samples(text: str) -> dict[int, FloatArray]:
    try:
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError(f"expected a JSON object n -> list, read a {type(raw).__name__}")
        items = sorted(((int(k), np.asarray(v, dtype=np.float64)) for k, v in raw.items()), key=lambda kv: kv[0])
        for n, v in items:
            if v.ndim != 1:
                raise ValueError(f"n = {n}: expected a list of numbers")
    except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
        raise _damaged("biasing_disturbance_samples_S.json", exc) from None
    return {n: readonly(v) for n, v in items}


def drolet_disturbance_stats() -> DisturbanceStats:
    """Half-select programming disturbance statistics of the Drolet TiO2 crossbars.

    Returns
    -------
    DisturbanceStats
        From ``biasing_disturbance_stats.csv``: mean and standard deviation (S) of the conductance
        change of a programmed device versus the number of devices programmed after it, n = 1..62.
        The mean drifts to about -11 uS and the spread grows to about 21 uS by n ~ 30; the rows
        from n = 55 on have no samples and hold NaN. For n <= 44 these moments are not those of
        :func:`drolet_disturbance_samples` (see its Notes).
    """
    return _parse_disturbance_stats(_data_text("biasing_disturbance_stats.csv"))


def _parse_disturbance_stats(text: str) -> DisturbanceStats:
    try:
        lines = [line for line in text.splitlines() if line.strip()]
        rows = np.array([[float(s) for s in line.split(",")] for line in lines[1:]], dtype=np.float64)
        if rows.ndim != 2 or rows.shape[0] == 0 or rows.shape[1] != 4:
            raise ValueError(f"expected rows of 4 numbers (n, mean dG, std dG, count), read shape {rows.shape}")
    except ValueError as exc:
        raise _damaged("biasing_disturbance_stats.csv", exc) from None
    return DisturbanceStats(
        n_subsequent=rows[:, 0].astype(np.int64),
        mean_dg=rows[:, 1],
        std_dg=rows[:, 2],
        n_samples=rows[:, 3].astype(np.int64),
    )
