"""Numbers refused before any work starts, by arithmetic alone.

A grid's cell count is known from its extent and cell size before a single cell exists, so a
grid too fine for the computer is refused with the count, the memory it would take and a size
that fits - instead of being found out by running out of memory (``SIZE_IS_AREA=1 SIZE=1e-9``
was killed at 23 GB; ``SIZE=1e-6`` asked numpy for 189 GiB). Nothing here allocates anything
that grows with the grid.
"""
import math

SQRT3 = math.sqrt(3.0)
# Bytes held per candidate cell while a grid is made (indices, centres, vertices, WKB, ids and
# masks of the cell-by-cell path), an upper bound used for the message only.
BYTES_PER_CELL = 600
# The cell indices are stored as 32-bit integers (q/r, row/col) and in the cell ids.
MAX_INDEX = 2 ** 31 - 1


def _human_bytes(n):
    units = ("bytes", "KB", "MB", "GB", "TB", "PB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000.0
        i += 1
    return f"{n:,.0f} bytes" if i == 0 else f"{n:,.1f} {units[i]}"


def _steps(shape, size):
    """(x spacing, y spacing) of cell centres (float)."""
    if shape == "square":
        return size, size
    radius = size / SQRT3
    if shape in ("hex_flat", "hexagon_flat"):
        return 1.5 * radius, size
    if shape in ("hex_pointy", "hexagon_pointy"):
        return size, 1.5 * radius
    raise ValueError(f"unknown grid shape {shape!r}")


def cell_width(shape, size, size_is_area=False):
    """The cell width of a SIZE (an area when ``size_is_area``), as the grid makes it."""
    if not size_is_area:
        return float(size)
    if shape == "square":
        return math.sqrt(size)
    return math.sqrt(2.0 * size / SQRT3)


def cells_in_box(shape, size, bbox):
    """An upper bound of the cells a grid of ``shape`` and width ``size`` puts over ``bbox``
    (xmin, ymin, xmax, ymax), in floating point (no integer overflow, no array)."""
    xmin, ymin, xmax, ymax = bbox
    dx, dy = _steps(shape, size)
    return (math.floor((xmax - xmin) / dx) + 2.0) * (math.floor((ymax - ymin) / dy) + 2.0)


def grid_problem(shape, size, bbox, x0=0.0, y0=0.0, max_cells=5_000_000, size_is_area=False,
                 what="SIZE"):
    """Why a grid cannot be made (a message naming the numbers and what to give), or None.

    Checks, in order: a finite cell size above zero, a finite origin, the number of cells
    against ``max_cells`` with the memory it would take, and cell indices that fit 32-bit
    integers (an origin far from the study area would make them wrap round).
    """
    for label, value in ((what, size), ("the grid origin X", x0), ("the grid origin Y", y0)):
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"{label} must be a finite number, not {value!r}."
    if not size > 0:
        return f"{what} must be a positive number of map units, not {size:g}: give the cell " \
               "width (e.g. 250 for 250 m cells in EPSG:27700)."
    width = cell_width(shape, size, size_is_area)
    if not (width > 0 and math.isfinite(width)):
        return f"{what} {size:g} gives no usable cell width."
    xmin, ymin, xmax, ymax = bbox
    if not all(math.isfinite(v) for v in bbox):
        return "The study area has no finite extent (is it empty?)."
    n = cells_in_box(shape, width, bbox)
    far = max(abs(xmin - x0), abs(xmax - x0), abs(ymin - y0), abs(ymax - y0))
    too_far = far / width > MAX_INDEX / 2
    if max_cells and n > max_cells and not too_far:
        # core.grid counts the lattice by arithmetic too (exactly where it is small): its
        # refusal, with the memory and time, is the one the algorithm itself would give
        from composite_index_plugin.core import grid
        from composite_index_plugin.core.errors import CompositeIndexError

        try:
            grid.check_cell_limit(grid.GridSpec(shape, width, x0, y0), bbox, max_cells)
            n = 0
        except CompositeIndexError as err:
            if "memory" in str(err):
                return str(err)
            return f"{err} Making them would need about {_human_bytes(n * BYTES_PER_CELL)} " \
                   "of memory."
        except (OverflowError, ValueError, MemoryError):
            pass                        # beyond what it can count: the estimate below
    if max_cells and n > max_cells:
        fit = width * math.sqrt(n / float(max_cells)) * 1.02
        shown = f"{fit:.4g}" if not size_is_area else \
            f"{fit * fit * (1.0 if shape == 'square' else SQRT3 / 2):.4g} (as an area)"
        count = f"{n:,.0f}" if n < 1e12 else f"{n:.2e}"
        return (f"{what} {size:g} would make about {count} cells over the study area's extent "
                f"({(xmax - xmin):,.0f} x {(ymax - ymin):,.0f} map units), more than the limit "
                f"of {int(max_cells):,} (MAX_CELLS); making them would need about "
                f"{_human_bytes(n * BYTES_PER_CELL)} of memory. Give a cell size of at least "
                f"{shown}, or raise the limit if the computer has the memory.")
    if too_far:
        return (f"The study area lies {far:.4g} map units from the grid origin "
                f"({x0:g}, {y0:g}), {far / width:.3g} cells of width {width:g}: cell numbers "
                f"must stay within {MAX_INDEX // 2:,}. Give an origin near the study area "
                "(or leave it at 0, 0) and a cell size in map units (metres).")
    return None
