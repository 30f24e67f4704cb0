"""What a recipe may touch on disk: its own folder, the output folder, and the folders the user
allows for the run - nothing else.

Recipes travel between partnerships like project files, so a recipe is read as untrusted: every
file it names (sources, import lookups, baselines, earlier periods, the output folder) must
resolve - after ``~``, ``..`` and symbolic links - inside one of the allowed folders, and the
names of the files a run writes are plain file names (no folder part), so a recipe cannot write
or replace a file anywhere else. Pure Python: the runner turns the problems into its checks.

    box = Sandbox([recipe_folder, output_folder] + allowed_by_the_user)
    box.contains("/etc/passwd")        # False
    recipe_paths(recipe)               # (JSON path, value, "recipe" | "output") of every path key
"""
import os

from composite_index_plugin.core.errors import Problem

# The files and folders a run writes into its output folder (besides the names the recipe
# chooses under `output` and `baseline.write`): an earlier run's copies of these may be replaced.
RUN_FILES = ("results.gpkg", "assessment.qgz", "run.log", "map.png", "baseline.json",
             "index_report.html", "assessment.pdf", "run_failed.log", "run_cancelled.log")
RUN_FOLDERS = ("pages", "assessment_files")
RUN_PREFIXES = (("import_", ".html"),)
MANIFEST = ".composite_index_outputs.json"

# Output keys and the file endings each accepts.
OUTPUT_ENDINGS = {"geopackage": (".gpkg",), "project": (".qgz", ".qgs"), "log": (".log", ".txt"),
                  "map_png": (".png",)}
BASELINE_ENDINGS = (".json",)

SANDBOX_HINT = ("a recipe reads and writes only inside its own folder and the output folder; "
                "move the file there, or allow its folder for this run (runrecipe's "
                "ALLOWED_FOLDERS, the Builder's 'allow folders' option)")


def real(path: str) -> str:
    """The absolute path with ``~``, ``..`` and symbolic links resolved."""
    return os.path.normcase(os.path.realpath(os.path.abspath(os.path.expanduser(str(path)))))


class Sandbox:
    """The folders a run may read and write in (each with everything below it)."""

    def __init__(self, roots):
        self.roots = []
        for root in roots:
            if root:
                resolved = real(root)
                if resolved not in self.roots:
                    self.roots.append(resolved)

    def contains(self, path) -> bool:
        """True when ``path`` (after resolving links and ``..``) lies inside an allowed folder."""
        if not isinstance(path, str) or not path.strip() or "\x00" in path:
            return False
        target = real(path)
        for root in self.roots:
            try:
                if os.path.commonpath([root, target]) == root:
                    return True
            except ValueError:          # another drive (Windows)
                continue
        return False

    def describe(self) -> str:
        return ", ".join(self.roots) if self.roots else "(none)"

    def problem(self, json_path: str, path: str, what: str = "file") -> Problem:
        shown = str(path)
        resolved = real(path) if isinstance(path, str) and "\x00" not in path else shown
        if resolved != os.path.normcase(os.path.abspath(os.path.expanduser(shown))):
            shown += f" (it leads to {resolved})"
        return Problem(json_path, f"the {what} {shown} is outside the folders this recipe may use "
                                  f"({self.describe()})", SANDBOX_HINT)


def plain_name_problem(name, endings=None):
    """Why ``name`` is not a plain file name (no folder part, no ``..``), or None."""
    if not isinstance(name, str) or not name.strip():
        return None        # the model reports a missing or non-text value
    if "\x00" in name or any(c in name for c in "/\\") or name in (".", "..") or \
            (len(name) > 1 and name[1] == ":") or name != name.strip() or \
            os.path.isabs(name) or name.startswith("~"):
        return (f"{name!r} is not a plain file name",
                "give just a file name (it is written into the output folder), e.g. "
                f"\"{'results' + (endings[0] if endings else '.txt')}\"")
    if name.startswith("."):
        return (f"{name!r} is a hidden file name", "give a name that does not start with '.'")
    if endings and not name.lower().endswith(tuple(endings)):
        return (f"{name!r} does not end with {' or '.join(endings)}",
                f"give a name ending with {' or '.join(endings)}")
    return None


def recipe_paths(recipe):
    """``(json path, value, base)`` of every path a recipe names: ``base`` is "recipe" for paths
    relative to the recipe's folder and "output" for names inside the output folder. Every key
    declared with the ``Path`` type is found, in any section (new keys included)."""
    from composite_index_plugin.core.schema import Path, Section, join

    out = []
    for path, section in recipe.walk():
        if not isinstance(section, Section):
            continue
        for name, key in section.keys().items():
            if not section.given(name):
                continue
            value = section.get(name)
            kind = key.type
            base = "output" if (type(section).__name__, name) == ("Baseline", "write") else "recipe"
            if kind is Path and isinstance(value, str):
                out.append((join(path, name), value, base))
            elif getattr(kind, "__origin__", None) is list and \
                    getattr(kind, "__args__", (None,))[0] is Path and isinstance(value, list):
                out.extend((join(join(path, name), i), v, base)
                           for i, v in enumerate(value) if isinstance(v, str))
    return out


def is_run_output(name: str) -> bool:
    """True for a file or folder name a run writes under its default names (``results.gpkg``,
    ``import_<file>.html``, ``pages``...): an earlier run's copy may be replaced even when no
    manifest lists it (runs of versions before the manifest). A name the recipe chose (say
    ``"log": "notes.txt"``) is replaced only when the manifest of an earlier run lists it."""
    if name in RUN_FILES or name in RUN_FOLDERS:
        return True
    return any(name.startswith(a) and name.endswith(b) for a, b in RUN_PREFIXES)
