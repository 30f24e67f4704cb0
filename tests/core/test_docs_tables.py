"""The key tables of docs/recipe.md are the model's: regenerate them with scripts/gen_docs.py."""
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _gen_docs():
    spec = importlib.util.spec_from_file_location("gen_docs", os.path.join(ROOT, "scripts",
                                                                           "gen_docs.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recipe_doc_tables_are_generated_from_the_model():
    gen = _gen_docs()
    with open(gen.DOC, encoding="utf-8") as handle:
        text = handle.read()
    assert gen.generated(text) == text, "docs/recipe.md is out of date: python scripts/gen_docs.py"


def test_every_key_of_the_model_is_in_the_doc():
    from composite_index_plugin.core import model

    gen = _gen_docs()
    with open(gen.DOC, encoding="utf-8") as handle:
        text = handle.read()
    documented = [cls for sections in gen._sections().values() for cls, _title in sections]
    for cls in model.SECTIONS:
        if cls in (model.Measurement, model.Options):   # documented through Role / Indicator
            continue
        assert cls in documented, cls.__name__
        for name in cls.keys():
            assert f"| `{name}` |" in text, f"{cls.__name__}.{name}"
