"""Help: every algorithm and model has a Help button that opens its own section of the docs in
the repository (the anchor is a heading that exists), docs/algorithms.md is what
scripts/gen_algorithm_docs.py writes, and no label says "optional" (QGIS adds "[optional]")."""
import importlib.util
import os
import re
from urllib.parse import urlparse

from qgis.core import QgsApplication

from composite_index_plugin.paths import metadata
from composite_index_plugin.processing.base import heading_anchor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _algorithms():
    """The registered provider's algorithms (asked afresh: a test that unloads the plugin
    registers a new provider)."""
    return QgsApplication.processingRegistry().providerById("compositeindex").algorithms()


def _gen():
    spec = importlib.util.spec_from_file_location(
        "gen_algorithm_docs", os.path.join(ROOT, "scripts", "gen_algorithm_docs.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def anchors(path):
    """The anchors GitHub makes for the headings of a Markdown file (outside code blocks;
    a repeated heading gets -1, -2, ...)."""
    seen, out, fence = {}, set(), False
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.lstrip().startswith("```"):
                fence = not fence
                continue
            match = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
            if fence or not match:
                continue
            anchor = heading_anchor(match.group(2))
            n = seen.get(anchor, 0)
            seen[anchor] = n + 1
            out.add(anchor if n == 0 else f"{anchor}-{n}")
    return out


def test_heading_anchor_is_githubs():
    assert heading_anchor("Hotspot analysis (Gi* and local Moran's I)") == \
        "hotspot-analysis-gi-and-local-morans-i"
    assert heading_anchor("The recipe (`recipe_version: 1`)") == "the-recipe-recipe_version-1"
    assert heading_anchor("4. Run") == "4-run"
    assert heading_anchor("Composite Index — user guide") == "composite-index--user-guide"


def test_every_algorithm_help_url_points_to_an_existing_heading(provider):
    home = metadata()["homepage"].rstrip("/")
    algorithms = _algorithms()
    assert len(algorithms) >= 15                   # 13 algorithms and 2 models at least
    for alg in algorithms:
        url = alg.helpUrl()
        assert url.startswith(home + "/blob/main/docs/"), (alg.id(), url)
        parsed = urlparse(url)
        doc = os.path.join(ROOT, "docs", parsed.path.split("/blob/main/docs/", 1)[1])
        assert os.path.isfile(doc), (alg.id(), url)
        assert parsed.fragment in anchors(doc), (alg.id(), url)


def test_algorithm_reference_is_generated_from_the_algorithms(provider):
    gen = _gen()
    with open(gen.DOC, encoding="utf-8") as handle:
        text = handle.read()
    assert gen.generated() == text, "docs/algorithms.md is out of date: " \
                                    "python scripts/gen_algorithm_docs.py"
    # its own links to the guides land on headings too
    for doc, anchor in re.findall(r"\]\(([a-z_]+\.md)#([^)]+)\)", text):
        assert anchor in anchors(os.path.join(ROOT, "docs", doc)), (doc, anchor)


def test_no_label_says_optional(provider):
    """QGIS marks optional parameters itself ("[optional]"): a label saying it again reads
    "(points, optional) [optional]"."""
    found = []
    for alg in _algorithms():
        for definition in alg.parameterDefinitions():
            if "optional" in definition.description().lower():
                found.append(f"{alg.id()}.{definition.name()}: {definition.description()}")
    assert found == []
