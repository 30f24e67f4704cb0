"""Small bar charts as SVG text (pure Python), for the printed assessment.

Qt's SVG renderer (SVG Tiny 1.2) draws them inside a layout picture item; only rect, line and
text elements are used. Bars start at zero, so negative values (below-average z-scores) go left
(or down, in the column chart of values per period). Labels are never cut inside a word.
"""
import math
from xml.sax.saxutils import escape

FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"
BAR = "#b2182b"       # dark red: reads as dark grey in print
BAR_LOW = "#92c5de"   # light blue for values below zero: reads as light grey
INK = "#1a1a1a"
GRID = "#bdbdbd"
DIGIT_EM = 0.64   # width of a digit (and of "." and the minus, about) in DejaVu Sans, in em


def _fmt(value, decimals):
    return f"{value:,.{decimals}f}".replace("-", "\u2212")


def _nice_step(span, target=4):
    raw = span / max(target, 1)
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def _wrap(text, width_chars):
    words, lines, cur = str(text).split(), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width_chars:
            lines.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}".strip()
    if cur:
        lines.append(cur)
    return lines or [""]

def _finite(values):
    """The values that are numbers (None and NaN left out)."""
    return [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]


def _svg_start(width, height, fs, title):
    """The SVG's opening, a white background and the title (two lines at most): (parts, y below)."""
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny" '
           f'width="{width}mm" height="{height}mm" viewBox="0 0 {width} {height}">',
           f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>']
    y = fs * 1.3
    if title:
        for line in _wrap(title, int(width / (fs * 0.55)))[:2]:
            out.append(f'<text x="0" y="{y:.2f}" font-family="{FONT}" font-size="{fs * 1.15:.2f}" '
                       f'font-weight="bold" fill="{INK}">{escape(line)}</text>')
            y += fs * 1.45
    return out, y


def _svg_empty(out, width, height, fs, empty_text):
    """A chart with nothing to draw: the text in the middle, and the SVG closed."""
    out.append(f'<text x="{width / 2:.2f}" y="{height / 2:.2f}" font-family="{FONT}" '
               f'font-size="{fs * 1.3:.2f}" text-anchor="middle" fill="#555555">'
               f'{escape(empty_text)}</text></svg>')
    return "\n".join(out)



def _shorten(line, max_chars):
    """``line`` ended with an ellipsis, cut at a word boundary so that it fits ``max_chars``
    (the first word is kept whole even when it is longer)."""
    words = line.split()
    while len(words) > 1 and len(" ".join(words)) + 1 > max_chars:
        words.pop()
    return " ".join(words).rstrip(" ,;-&") + "\u2026"


def _clear_of_ticks(x, y, forward, width, size, ticks):
    """Where a value label starts (``forward``: running right from ``x``, else ending at ``x``)
    so that no reference tick runs through it: past the tick, in the label's direction. The
    overview's ticks (the whole study area's score on every bar) made one line through the
    labels of the bars shorter than it ("0.02")."""
    for _ in range(len(ticks)):
        lo, hi = (x, x + width) if forward else (x - width, x)
        hit = [t for t, y0, y1 in ticks if lo - 0.3 <= t <= hi + 0.3
               and y0 <= y + 0.2 * size and y1 >= y - 0.8 * size]
        if not hit:
            break
        x = max(hit) + 0.8 if forward else min(hit) - 0.8
    return x


def bar_chart_svg(items, title="", reference=None, reference_label="city", width=90.0, height=55.0,
                  decimals=2, note="", font_size=2.6, empty_text="No data"):
    """SVG of horizontal bars. ``items``: list of ``(label, value)``; ``reference``: optional list
    of values (same order) drawn as a black tick on each bar (e.g. the whole-area value).
    Sizes in mm (the SVG's user unit is 1 mm). Labels longer than the label column wrap to two
    lines and are cut with an ellipsis beyond that."""
    fs = font_size
    # many bars: smaller text so that every row keeps at least 1.15 text heights
    n_rows = max(len(items), 1)
    fs = min(fs, max((height - fs * 6.5) / (n_rows * 1.15), 1.2))
    out, y = _svg_start(width, height, fs, title)
    values = _finite(v for _, v in items)
    if not values:
        return _svg_empty(out, width, height, fs, empty_text)
    refs = _finite(reference or [])
    lo = min([0.0] + values + refs)
    hi = max([0.0] + values + refs)
    if hi == lo:
        hi = lo + 1.0
    label_w = width * 0.36
    room = fs * 0.55 * (len(_fmt(max(abs(lo), abs(hi)), decimals)) + 1)   # for the value labels
    plot_x0 = label_w + 1.5 + (room if lo < 0 else 0.0)
    plot_x1 = width - 0.5 - (room if hi > 0 else 0.0)
    bottom_space = fs * 2.6 + (fs * 1.4 if note or reference else 0)
    top = y + fs * 0.3
    n = len(items)
    row_h = min((height - top - bottom_space) / max(n, 1), fs * 3.2)
    bar_h = min(row_h * 0.62, fs * 2.0)

    def sx(v):
        return plot_x0 + (v - lo) / (hi - lo) * (plot_x1 - plot_x0)

    step = _nice_step(hi - lo)
    tick = math.ceil(lo / step) * step
    axis_y = top + n * row_h
    exponent = math.floor(math.log10(step))
    mantissa = step / 10 ** exponent
    tick_dec = max(0, -exponent) + (0 if abs(mantissa - round(mantissa)) < 1e-9 else 1)
    while tick <= hi + 1e-9:
        x = sx(tick)
        out.append(f'<line x1="{x:.2f}" y1="{top:.2f}" x2="{x:.2f}" y2="{axis_y:.2f}" '
                   f'stroke="{GRID}" stroke-width="0.15"/>')
        out.append(f'<text x="{x:.2f}" y="{axis_y + fs * 1.1:.2f}" font-family="{FONT}" '
                   f'font-size="{fs * 0.85:.2f}" text-anchor="middle" fill="{INK}">'
                   f'{_fmt(tick, tick_dec)}</text>')
        tick += step
    zero = sx(0.0)
    max_chars = int(label_w / (fs * 0.5))
    labels = []     # value labels: (x, y, running right, text)
    ticks = []      # reference ticks: (x, y top, y bottom)
    for k, (label, value) in enumerate(items):
        cy = top + (k + 0.5) * row_h
        lines = _wrap(label, max_chars)
        max_lines = 2 if row_h >= fs * 2.3 else 1
        if len(lines) > max_lines:
            lines = lines[: max_lines - 1] + [_shorten(lines[max_lines - 1], max_chars)]
        for j, line in enumerate(lines):
            ly = cy + fs * 0.35 + (j - (len(lines) - 1) / 2) * fs * 1.05
            out.append(f'<text x="{label_w:.2f}" y="{ly:.2f}" font-family="{FONT}" font-size="{fs:.2f}" '
                       f'text-anchor="end" fill="{INK}">{escape(line)}</text>')
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.append(f'<text x="{zero + 1:.2f}" y="{cy + fs * 0.35:.2f}" font-family="{FONT}" '
                       f'font-size="{fs * 0.9:.2f}" fill="#555555">no data</text>')
            continue
        x0, x1 = sorted((zero, sx(value)))
        colour = BAR if value >= 0 else BAR_LOW
        out.append(f'<rect x="{x0:.2f}" y="{cy - bar_h / 2:.2f}" width="{max(x1 - x0, 0.2):.2f}" '
                   f'height="{bar_h:.2f}" fill="{colour}" stroke="{INK}" stroke-width="0.1"/>')
        if reference is not None and k < len(reference) and reference[k] is not None \
                and not (isinstance(reference[k], float) and math.isnan(reference[k])):
            rx = sx(reference[k])
            ticks.append((rx, cy - bar_h * 0.85, cy + bar_h * 0.85))
            out.append(f'<line x1="{rx:.2f}" y1="{ticks[-1][1]:.2f}" x2="{rx:.2f}" '
                       f'y2="{ticks[-1][2]:.2f}" stroke="{INK}" stroke-width="0.5"/>')
        # value label just beyond the bar end (room was kept on both sides)
        labels.append(((x1 + 0.8) if value >= 0 else (x0 - 0.8), cy + fs * 0.33, value >= 0,
                       _fmt(value, decimals)))
    size = fs * 0.85
    for tx, ty, forward, text in labels:
        tx = _clear_of_ticks(tx, ty, forward, DIGIT_EM * size * len(text), size, ticks)
        out.append(f'<text x="{tx:.2f}" y="{ty:.2f}" font-family="{FONT}" font-size="{size:.2f}" '
                   f'text-anchor="{"start" if forward else "end"}" fill="{INK}">{text}</text>')
    out.append(f'<line x1="{zero:.2f}" y1="{top:.2f}" x2="{zero:.2f}" y2="{axis_y:.2f}" '
               f'stroke="{INK}" stroke-width="0.25"/>')
    foot = []
    if reference is not None:
        foot.append(f"\u2502 = {reference_label}")
    if note:
        foot.append(note)
    if foot:
        out.append(f'<text x="0" y="{min(axis_y + fs * 2.6, height - 0.6):.2f}" font-family="{FONT}" '
                   f'font-size="{fs * 0.85:.2f}" '
                   f'fill="#444444">{escape("   ".join(foot))}</text>')
    out.append("</svg>")
    return "\n".join(out)


def column_chart_svg(items, title="", width=90.0, height=46.0, decimals=2, note="", font_size=2.6,
                     empty_text="No data"):
    """SVG of vertical bars, one per item in order (e.g. the gap per period, oldest first).
    ``items``: list of ``(label, value)``; the value is written on each bar's end. Sizes in mm."""
    fs = font_size
    out, y = _svg_start(width, height, fs, title)
    values = _finite(v for _, v in items)
    if not values:
        return _svg_empty(out, width, height, fs, empty_text)
    lo, hi = min([0.0] + values), max([0.0] + values)
    if hi == lo:
        hi = lo + 1.0
    top = y + fs * 1.4                                  # room for the value above the tallest bar
    bottom = height - fs * (2.2 + (1.4 if note else 0.0)) - (fs * 1.2 if lo < 0 else 0.0)
    axis_w = fs * 0.55 * (len(_fmt(max(abs(lo), abs(hi)), decimals)) + 1.5)
    x0, x1 = axis_w, width - 1.0

    def sy(v):
        return bottom - (v - lo) / (hi - lo) * (bottom - top)

    step = _nice_step(hi - lo)
    tick = math.ceil(lo / step) * step
    exponent = math.floor(math.log10(step))
    mantissa = step / 10 ** exponent
    tick_dec = max(0, -exponent) + (0 if abs(mantissa - round(mantissa)) < 1e-9 else 1)
    while tick <= hi + 1e-9:
        ty = sy(tick)
        out.append(f'<line x1="{x0:.2f}" y1="{ty:.2f}" x2="{x1:.2f}" y2="{ty:.2f}" '
                   f'stroke="{GRID}" stroke-width="0.15"/>')
        out.append(f'<text x="{x0 - 0.8:.2f}" y="{ty + fs * 0.3:.2f}" font-family="{FONT}" '
                   f'font-size="{fs * 0.85:.2f}" text-anchor="end" fill="{INK}">'
                   f'{_fmt(tick, tick_dec)}</text>')
        tick += step
    n = len(items)
    slot = (x1 - x0) / max(n, 1)
    bar_w = min(slot * 0.6, fs * 6)
    zero = sy(0.0)
    for k, (label, value) in enumerate(items):
        cx = x0 + (k + 0.5) * slot
        out.append(f'<text x="{cx:.2f}" y="{height - fs * (0.6 + (1.4 if note else 0.0)):.2f}" '
                   f'font-family="{FONT}" font-size="{fs:.2f}" text-anchor="middle" '
                   f'fill="{INK}">{escape(str(label))}</text>')
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.append(f'<text x="{cx:.2f}" y="{zero - 0.8:.2f}" font-family="{FONT}" '
                       f'font-size="{fs * 0.9:.2f}" text-anchor="middle" fill="#555555">no data</text>')
            continue
        y0, y1 = sorted((zero, sy(value)))
        colour = BAR if value >= 0 else BAR_LOW
        out.append(f'<rect x="{cx - bar_w / 2:.2f}" y="{y0:.2f}" width="{bar_w:.2f}" '
                   f'height="{max(y1 - y0, 0.2):.2f}" fill="{colour}" stroke="{INK}" '
                   f'stroke-width="0.1"/>')
        ty = (y0 - 0.8) if value >= 0 else (y1 + fs * 1.0)
        out.append(f'<text x="{cx:.2f}" y="{ty:.2f}" font-family="{FONT}" font-size="{fs * 0.9:.2f}" '
                   f'text-anchor="middle" fill="{INK}">{_fmt(value, decimals)}</text>')
    out.append(f'<line x1="{x0:.2f}" y1="{zero:.2f}" x2="{x1:.2f}" y2="{zero:.2f}" '
               f'stroke="{INK}" stroke-width="0.25"/>')
    if note:
        out.append(f'<text x="0" y="{height - 0.6:.2f}" font-family="{FONT}" '
                   f'font-size="{fs * 0.85:.2f}" fill="#444444">{escape(note)}</text>')
    out.append("</svg>")
    return "\n".join(out)
