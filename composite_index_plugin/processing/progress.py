"""Progress of a recipe run: every stage reports into one 0-100 bar, each with a share of the
bar proportional to what it costs.

Why signals, not overrides: ``QgsFeedback::setProgress`` is not virtual in C++, so a Python
subclass overriding ``setProgress`` is never called by C++ code (``QgsProcessingMultiStepFeedback``,
native algorithms, ``processing.run``): the value only ever travels as the ``progressChanged``
signal. Every feedback here therefore listens to ``progressChanged`` and passes the value on
with an ordinary call, which emits the parent's signal in turn; that signal is what the
Processing dialog, ``qgis_process`` (its ``0...10...20`` ticks), the task manager and the Builder's
bar listen to.

    progress = StageProgress(log_feedback, weights)       # {stage: cost}, see stage_weights()
    for stage in stages:
        feedback = progress.stage(stage)                 # messages -> log, progress -> its share
        feedback.expect(n)                               # n child algorithms in this stage
        child = feedback.child()                         # the feedback of the next child run
    progress.finish()                                    # 100

The bar only moves forward (a child that starts again at 0 cannot move it back) and each
stage ends at its share's end, run or skipped.
"""
import os
import time

from qgis.core import QgsProcessingFeedback

# What each stage costs, in seconds on QGIS 3.22 (2 cores): ``fixed + per_cells * c`` with ``c``
# the number of zones / 10,000, fitted to runs measured with benchmarks/bench_stages.py: the
# demo (Birmingham, default synthetic sample, 400 m hexagons: about 2,000 cells, 8 issues x 3
# roles, 3 CSV imports of 3 MB, sensitivity 200 runs) and a West Yorkshire-sized run (the
# police.uk month July 2016, 5.8 MB, 250 m hexagons over the 1,388 LSOAs: about 38,000 cells,
# 13 issues, sensitivity 200 runs). E.g. aggregation took 1.8 s (demo) and 38 s (West
# Yorkshire), the layout 5 s and 9 s, the sensitivity 7 s and 20 s. Only proportions matter.
STAGE_COST = {                  # (fixed, per c)
    "geography": (0.2, 0.65),
    "population": (0.8, 2.1),
    "aggregate": (0.07, 0.75),  # per issue
    "index": (0.45, 2.25),
    "hotspots": (0.6, 1.95),    # analytic p-values; permutations add PERMUTATION_COST per 999
    "hotspot_zones": (0.2, 0.4),
    "summaries": (0.55, 0.7),
    "compare": (1.0, 2.0),      # per earlier period
    "sensitivity": (6.2, 3.6),  # per 200 runs (x 1.6 with grid jitter)
    "project": (0.5, 0.0),
    "map": (0.6, 0.2),
    "layout": (4.7, 1.2),
}
IMPORT_COST = (0.7, 0.35)       # per raw file, and per MB of it
PERMUTATION_COST = (0.9, 0.6)
JITTER_FACTOR = 1.6
TYPICAL_ZONES = 10_000          # before the zones exist


def stage_weights(recipe, stages, zones=TYPICAL_ZONES, base_dir="") -> dict:
    """The expected seconds of each stage for a parsed recipe (``core.model.Recipe``) on
    ``zones`` zones: 0 for a stage the recipe skips."""
    c = max(zones, 1) / 10_000

    def cost(stage, times=1.0):
        fixed, per = STAGE_COST[stage]
        return (fixed + per * c) * times

    issues = list(recipe.issues()) if isinstance(recipe.themes, list) else []
    files = {}
    for _p, _t, _i, _r, spec in recipe.roles():
        if spec.source is not None and spec.source.get("import") is not None:
            path = spec.source.path or ""
            path = path if os.path.isabs(path) else os.path.join(base_dir, path)
            try:
                files[path] = os.path.getsize(path) / 2**20
            except OSError:
                files[path] = 1.0
    hot, sens, comp = recipe.hotspots, recipe.sensitivity, recipe.compare
    weights = {
        "import": sum(IMPORT_COST[0] + IMPORT_COST[1] * mb for mb in files.values()),
        "geography": cost("geography"),
        "population": cost("population", recipe.population is not None),
        "aggregate": cost("aggregate", max(1, len(issues))),
        "index": cost("index"),
        "hotspots": (cost("hotspots") + (PERMUTATION_COST[0] + PERMUTATION_COST[1] * c)
                     * min(hot.permutations, 99999) / 999) * bool(hot.enabled),
        "hotspot_zones": cost("hotspot_zones", bool(hot.enabled and hot.zones)),
        "summaries": cost("summaries", recipe.admin_areas is not None),
        "compare": cost("compare", len(comp.previous) if comp is not None else 0),
        "sensitivity": cost("sensitivity", sens.runs / 200 * (JITTER_FACTOR if sens.grid_jitter
                                                              else 1.0)) if sens else 0.0,
        "project": cost("project"),
        "map": cost("map"),
        "layout": cost("layout", recipe.admin_areas is not None),
    }
    return {stage: float(weights.get(stage, 1.0)) for stage in stages}


class ForwardFeedback(QgsProcessingFeedback):
    """A feedback that passes every message to ``parent``, is cancelled with it, and maps its
    own progress (0-100) onto ``report(value)`` (by default the parent's progress)."""

    def __init__(self, parent, report=None):
        super().__init__(False)   # nothing logged here: the parent logs what it is passed
        self.parent = parent
        self._report = report
        if parent is not None:
            parent.canceled.connect(self.cancel)
            if parent.isCanceled():
                self.cancel()
        self.progressChanged.connect(self._progress)

    def _progress(self, value):
        if self._report is not None:
            self._report(value)
        elif self.parent is not None:
            self.parent.setProgress(value)

    def detach(self):
        """Stop following the parent (its cancel and its messages)."""
        if self.parent is not None:
            try:
                self.parent.canceled.disconnect(self.cancel)
            except (TypeError, RuntimeError):
                pass
        self.parent = None

    def expect(self, parts):
        """How many child algorithms follow (only a stage's feedback divides its share)."""

    def child(self):
        """The feedback to hand a child algorithm: this one (a stage's gives a part of it)."""
        return self

    # every message goes to the parent (virtual in C++: called from algorithms too)
    def setProgressText(self, text):
        if self.parent is not None:
            self.parent.setProgressText(text)

    def pushInfo(self, text):
        if self.parent is not None:
            self.parent.pushInfo(text)

    def pushWarning(self, text):
        if self.parent is not None:
            self.parent.pushWarning(text)

    def reportError(self, text, fatalError=False):
        if self.parent is not None:
            self.parent.reportError(text, fatalError)

    def pushDebugInfo(self, text):
        if self.parent is not None:
            self.parent.pushDebugInfo(text)

    def pushCommandInfo(self, text):
        if self.parent is not None:
            self.parent.pushCommandInfo(text)

    def pushConsoleInfo(self, text):
        if self.parent is not None:
            self.parent.pushConsoleInfo(text)

    def pushFormattedMessage(self, html, text):
        """QGIS 3.36+: a message with HTML (links to outputs)."""
        if self.parent is not None and hasattr(self.parent, "pushFormattedMessage"):
            self.parent.pushFormattedMessage(html, text)


class StageFeedback(ForwardFeedback):
    """The feedback of one stage: messages go to the run's feedback, progress fills the stage's
    share of the bar. A stage that runs several child algorithms says how many (``expect``);
    each ``child()`` then fills its own equal part of the share."""

    def __init__(self, progress, parent, start, end):
        super().__init__(parent, report=self._within)
        self._bar = progress
        self.start, self.end = start, end
        self._parts = 1
        self._next = 0
        self._children = []

    def _within(self, value):
        self._bar.report(self.start + (self.end - self.start) * min(max(value, 0), 100) / 100)

    def expect(self, parts):
        """This stage runs ``parts`` child algorithms, one after the other."""
        self._parts = max(1, int(parts))

    def child(self):
        """A feedback for the next child algorithm of this stage: its 0-100 fills the next part
        of the stage's share (children beyond those expected share the last part)."""
        k = min(self._next, self._parts - 1)
        self._next += 1
        width = (self.end - self.start) / self._parts
        lo = self.start + k * width
        child = ForwardFeedback(self, report=lambda v, lo=lo: self._bar.report(
            lo + width * min(max(v, 0), 100) / 100))
        self._children.append(child)
        return child

    def detach(self):
        for child in self._children:
            child.detach()
        self._children = []
        super().detach()


class StageProgress:
    """The whole run's bar: stage shares by weight, forwarded to ``feedback`` (whose
    ``progressChanged`` the caller listens to), never moving back. Records how long each
    stage took (``seconds``)."""

    def __init__(self, feedback, weights):
        self.feedback = feedback
        total = sum(max(0.0, w) for w in weights.values()) or 1.0
        self.ranges = {}
        start = 0.0
        for stage, weight in weights.items():
            end = start + 100.0 * max(0.0, weight) / total
            self.ranges[stage] = (start, end)
            start = end
        self.value = 0.0
        self.seconds = {}
        self._current = None
        self._started = None
        self.feedback.setProgress(0.0)

    def report(self, value):
        value = min(100.0, value)
        if value > self.value + 1e-9:
            self.value = value
            self.feedback.setProgress(value)

    def stage(self, name):
        """The feedback of stage ``name`` (the previous stage ends at its share's end)."""
        self._close()
        start, end = self.ranges.get(name, (self.value, self.value))
        self.report(start)
        self._current = (name, StageFeedback(self, self.feedback, max(start, self.value), end))
        self._started = time.perf_counter()
        return self._current[1]

    def _close(self):
        if self._current is None:
            return
        name, feedback = self._current
        self.seconds[name] = time.perf_counter() - self._started
        self.report(feedback.end)
        feedback.detach()
        self._current = None

    def reweight(self, weights):
        """New costs for the stages not started yet (e.g. once the number of zones is known):
        the rest of the bar is shared out again, the current stage ends here."""
        self._close()
        left = [s for s in self.ranges if s not in self.seconds]
        total = sum(max(0.0, weights.get(s, 0.0)) for s in left) or 1.0
        start = self.value
        for stage in left:
            end = start + (100.0 - self.value) * max(0.0, weights.get(stage, 0.0)) / total
            self.ranges[stage] = (start, end)
            start = end

    def finish(self):
        """The last stage is done: 100."""
        self._close()
        self.report(100.0)

    def close(self):
        """Stop (a failed or cancelled run): the bar stays where it is."""
        if self._current is not None:
            name, feedback = self._current
            self.seconds[name] = time.perf_counter() - self._started
            feedback.detach()
            self._current = None
