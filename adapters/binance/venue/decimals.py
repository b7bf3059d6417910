"""Integer ticks and lots as the venue's decimal strings, a whole array at a time.

A price of ``ticks`` is ``ticks * tick_size`` written with the tick size's own number of
decimals (``Instrument.ticks_to_decimal``: tick ``0.10`` gives ``"58710.20"``), as the venue
writes it. The strings are built by Arrow compute kernels (C loops), never one Python
``Decimal`` per level: a batch of depth levels costs a few array passes.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

IntArray = npt.NDArray[np.int64]


class Grid:
    """How units of one step (a tick size or a lot size) become decimal strings."""

    __slots__ = ("decimals", "scale", "step")

    def __init__(self, step: Decimal) -> None:
        self.step = step
        exponent = step.as_tuple().exponent
        assert isinstance(exponent, int)
        self.decimals = max(0, -exponent)
        #: Integer value of one step in units of 10**-decimals.
        self.scale = int(step.scaleb(self.decimals))

    def parts(self, units: IntArray) -> list[pa.Array]:
        """The string pieces of ``units`` (integer part, then '.' and the fraction if any),
        to be joined by :func:`pc.binary_join_element_wise`."""
        scaled = np.asarray(units, dtype=np.int64) * self.scale
        if self.decimals == 0:
            return [pc.cast(pa.array(scaled), pa.string())]
        power = 10**self.decimals
        whole = pc.cast(pa.array(scaled // power), pa.string())
        fraction = pc.cast(pa.array(scaled % power), pa.string())
        return [whole, ".", pc.utf8_lpad(fraction, width=self.decimals, padding="0")]

    def strings(self, units: IntArray) -> list[str]:
        """``units`` as decimal strings."""
        strings: list[str] = join(self.parts(units)).to_pylist()
        return strings

    def one(self, units: int) -> str:
        """One value as a decimal string (for single quotes, e.g. a bookTicker)."""
        return format(units * self.step, "f")


def join(pieces: list[pa.Array | str]) -> pa.Array:
    """Arrays and constant strings concatenated element-wise."""
    if len(pieces) == 1 and isinstance(pieces[0], pa.Array):
        return pieces[0]
    return pc.binary_join_element_wise(*pieces, "")


def level_pairs(price: Grid, qty: Grid, ticks: IntArray, lots: IntArray) -> pa.Array:
    """Each level as its JSON text ``["price","qty"]``."""
    return join(['["', *price.parts(ticks), '","', *qty.parts(lots), '"]'])


def json_lists(pairs: pa.Array, offsets: npt.NDArray[np.int64]) -> list[str]:
    """The JSON arrays of ``pairs[offsets[i]:offsets[i + 1]]`` for each ``i``."""
    lists = pa.LargeListArray.from_arrays(pa.array(offsets, type=pa.int64()), pairs)
    joined = pc.binary_join(lists, ",")
    texts: list[str] = join(["[", joined, "]"]).to_pylist()
    return texts


def float_strings(values: npt.NDArray[np.float64]) -> list[str]:
    """Floats as plain decimal strings that read back to the same float (no exponent)."""
    return [np.format_float_positional(v, trim="-") for v in values.tolist()]
