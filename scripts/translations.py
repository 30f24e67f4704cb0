"""The plugin's translation catalogues: extract the strings, write .ts files, compile .qm files.

    python scripts/translations.py ts      # i18n/composite_index.ts (the template) and every
                                           # i18n/composite_index_<locale>.ts brought up to date
    python scripts/translations.py qm      # i18n/composite_index_<locale>.qm from each .ts
    python scripts/translations.py check   # exit 1 if a string cannot be extracted

(``make ts``, ``make qm``.) Why our own extractor rather than pylupdate5: pylupdate5 comes with
Debian's pyqt5-dev-tools, which a QGIS install does not pull in (it is not on the 3.22 host nor in
the 3.40/3.44 systems), and pylupdate6 does not read PyQt5 code the same way; Qt's lupdate does
not read Python at all. The plugin's conventions are few and fixed (``composite_index_plugin.i18n``
explains them), so a small reader of the Python syntax tree finds exactly those, names every
call it cannot read (a variable or an f-string given to ``tr``), and needs nothing installed.
It reads:

- ``tr("...")`` and ``self.tr("...")`` (context ``CompositeIndex``);
- ``QT_TRANSLATE_NOOP("Context", "...")`` and ``translate("Context", "...")``;
- every ``<string>`` of the Qt Designer forms in ``ui/`` (context: the form's class), as Qt
  translates them when the form is loaded;
- the readable words of the choices in ``core/vocab.py`` (the Qt-free core cannot mark them):
  the values of its module constants named ``*_TITLES`` and ``*_TEXT`` (labels and tooltips;
  never the dictionary keys, which are the recipe's words). They are shown through
  ``i18n.translated``.

The .qm files are written here too (the format Qt's QTranslator reads: the messages, and a table
of their hashes to find them), so no Qt tool is needed to build or test them; where Qt's
``lrelease`` is installed it gives the same translations (the tests compare both).
"""
import argparse
import ast
import os
import struct
import sys
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "composite_index_plugin")
UI = os.path.join(ROOT, "ui")
I18N = os.path.join(ROOT, "i18n")
CONTEXT = "CompositeIndex"
CATALOGUE = "composite_index"
TEMPLATE = os.path.join(I18N, f"{CATALOGUE}.ts")

TR_NAMES = {"tr"}
TRANSLATE_NAMES = {"translate", "QT_TRANSLATE_NOOP"}


# ------------------------------------------------------------------ extraction
def _name(func):
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _literal(node):
    """The text of a string literal (adjacent literals are one), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def extract_python(path, rel):
    """({(context, text): [location]}, [problem]) of one Python file."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), filename=rel)
    found, problems = {}, []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name in TR_NAMES and node.args:
            text = _literal(node.args[0])
            if text is None:
                problems.append(f"{rel}:{node.lineno}: tr() of something that is not a string "
                                "literal (use tr(\"... {name} ...\").format(name=...), or mark the "
                                "text with QT_TRANSLATE_NOOP where it is written)")
                continue
            found.setdefault((CONTEXT, text), []).append((rel, node.lineno))
        elif name in TRANSLATE_NAMES and len(node.args) >= 2:
            context, text = _literal(node.args[0]), _literal(node.args[1])
            if context is None or text is None:
                if name == "QT_TRANSLATE_NOOP" or context is not None:
                    problems.append(f"{rel}:{node.lineno}: {name}() of something that is not a "
                                    "string literal")
                continue
            found.setdefault((context, text), []).append((rel, node.lineno))
    return found, problems


VOCAB = os.path.join("composite_index_plugin", "core", "vocab.py")


def _strings(node):
    """String literals inside a constant's value (dictionary values, never keys)."""
    if isinstance(node, ast.Dict):
        for value in node.values:
            yield from _strings(value)
    elif isinstance(node, (ast.Tuple, ast.List)):
        for element in node.elts:
            yield from _strings(element)
    elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value:
        yield node


def extract_vocab(path, rel):
    """The readable words of the choices: values of module constants *_TITLES and *_TEXT."""
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read(), filename=rel)
    found = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and \
                isinstance(stmt.targets[0], ast.Name) and \
                stmt.targets[0].id.endswith(("_TITLES", "_TEXT")):
            for node in _strings(stmt.value):
                found.setdefault((CONTEXT, node.value), []).append((rel, node.lineno))
    return found


def extract_ui(path, rel):
    """Every translatable <string> of a Qt Designer form (context: the form's class)."""
    root = ET.parse(path).getroot()
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    context = (root.findtext("class") or "").strip()
    found = {}
    for element in root.iter("string"):
        if element.get("notr") == "true" or not (element.text or "").strip():
            continue
        written = f">{escape(element.text)}</string>"
        line = next((n for n, text in enumerate(lines, 1) if written in text), 0)
        found.setdefault((context, element.text), []).append((rel, line))
    return found


def extract(root=ROOT):
    """All translatable strings of the plugin: {(context, text): [(file, line)]} and the calls
    that cannot be extracted."""
    messages, problems = {}, []
    package = os.path.join(root, "composite_index_plugin")
    for folder, _dirs, files in sorted(os.walk(package)):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                found, bad = extract_python(path, os.path.relpath(path, root))
                problems += bad
                for key, where in found.items():
                    messages.setdefault(key, []).extend(where)
    vocab = os.path.join(root, VOCAB)
    if os.path.isfile(vocab):
        for key, where in extract_vocab(vocab, VOCAB).items():
            messages.setdefault(key, []).extend(where)
    ui = os.path.join(root, "ui")
    for name in sorted(os.listdir(ui)) if os.path.isdir(ui) else []:
        if name.endswith(".ui"):
            path = os.path.join(ui, name)
            for key, where in extract_ui(path, os.path.relpath(path, root)).items():
                messages.setdefault(key, []).extend(where)
    return messages, problems


# ------------------------------------------------------------------ .ts files
def write_ts(path, messages, language="", translations=None):
    """A Qt Linguist .ts file of ``messages`` (sorted by context and first place), with
    ``translations`` {(context, text): translation} where known (else unfinished)."""
    translations = translations or {}
    by_context = {}
    for (context, text), where in messages.items():
        by_context.setdefault(context, []).append((min(where), text))
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<!DOCTYPE TS>",
             f'<TS version="2.1"{f" language={chr(34)}{language}{chr(34)}" if language else ""}>']
    for context in sorted(by_context):
        lines += ["<context>", f"    <name>{escape(context)}</name>"]
        for (rel, line), text in sorted(by_context[context]):
            lines.append("    <message>")
            target = os.path.relpath(os.path.join(ROOT, rel), os.path.dirname(path)) \
                .replace(os.sep, "/")
            lines.append(f'        <location filename="{escape(target)}" line="{line}"/>')
            lines.append(f"        <source>{escape(text)}</source>")
            done = translations.get((context, text))
            if done:
                lines.append(f"        <translation>{escape(done)}</translation>")
            else:
                lines.append('        <translation type="unfinished"></translation>')
            lines.append("    </message>")
        lines.append("</context>")
    lines.append("</TS>")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def read_ts(path):
    """({(context, source): translation} of the finished messages, language)."""
    root = ET.parse(path).getroot()
    out = {}
    for context in root.iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            source = message.findtext("source") or ""
            translation = message.find("translation")
            if translation is None or translation.get("type") in ("unfinished", "obsolete",
                                                                   "vanished"):
                continue
            if translation.text:
                out[(name, source)] = translation.text
    return out, root.get("language") or ""


# ------------------------------------------------------------------ .qm files
QM_MAGIC = bytes([0x3C, 0xB8, 0x64, 0x18, 0xCA, 0xEF, 0x9C, 0x95,
                  0xCD, 0x21, 0x1C, 0xBF, 0x60, 0xA1, 0xBD, 0xDD])
TAG_HASHES, TAG_MESSAGES = 0x42, 0x69
TAG_END, TAG_TRANSLATION, TAG_SOURCE, TAG_CONTEXT = 1, 3, 6, 7


def elf_hash(data):
    """The hash QTranslator looks messages up by (of the source text and comment, UTF-8)."""
    h = 0
    for byte in data:
        h = ((h << 4) + byte) & 0xFFFFFFFF
        g = h & 0xF0000000
        if g:
            h ^= g >> 24
        h &= ~g & 0xFFFFFFFF
    return h or 1


def write_qm(path, translations):
    """A .qm catalogue QTranslator loads, of ``translations`` {(context, source): text}."""
    messages, hashes = bytearray(), []
    for (context, source), text in sorted(translations.items()):
        source_bytes, context_bytes = source.encode("utf-8"), context.encode("utf-8")
        hashes.append((elf_hash(source_bytes), len(messages)))
        translated = text.encode("utf-16-be")
        messages += struct.pack(">BI", TAG_TRANSLATION, len(translated)) + translated
        messages += struct.pack(">BI", TAG_SOURCE, len(source_bytes)) + source_bytes
        messages += struct.pack(">BI", TAG_CONTEXT, len(context_bytes)) + context_bytes
        messages += struct.pack(">B", TAG_END)
    table = b"".join(struct.pack(">II", h, offset) for h, offset in sorted(hashes))
    with open(path, "wb") as handle:
        handle.write(QM_MAGIC)
        handle.write(struct.pack(">BI", TAG_HASHES, len(table)) + table)
        handle.write(struct.pack(">BI", TAG_MESSAGES, len(messages)) + bytes(messages))
    return path


def pseudo(text):
    """A pseudo-translation that shows at a glance which texts went through the catalogue (the
    text kept readable, its {placeholders} untouched)."""
    return f"\u00bb{text}\u00ab"


# ------------------------------------------------------------------ commands
def language_files(folder=I18N):
    prefix = f"{CATALOGUE}_"
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, n) for n in os.listdir(folder)
                  if n.startswith(prefix) and n.endswith(".ts"))


def cmd_ts():
    messages, problems = extract()
    for problem in problems:
        print("cannot extract:", problem, file=sys.stderr)
    write_ts(TEMPLATE, messages)
    print(f"wrote {os.path.relpath(TEMPLATE, ROOT)}: {len(messages)} strings")
    for path in language_files():
        done, language = read_ts(path)
        kept = {k: v for k, v in done.items() if k in messages}
        write_ts(path, messages, language, kept)
        print(f"updated {os.path.relpath(path, ROOT)}: {len(kept)} of {len(messages)} translated"
              + (f", {len(done) - len(kept)} no longer used" if len(done) > len(kept) else ""))
    return 1 if problems else 0


def compile_all(folder=I18N, out_folder=None):
    """Compile every language .ts of ``folder`` to .qm in ``out_folder`` (default: beside)."""
    written = []
    for path in language_files(folder):
        done, _language = read_ts(path)
        target = os.path.join(out_folder or folder,
                              os.path.splitext(os.path.basename(path))[0] + ".qm")
        written.append(write_qm(target, done))
    return written


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("ts", "qm", "check"))
    args = parser.parse_args()
    if args.command == "ts":
        sys.exit(cmd_ts())
    if args.command == "qm":
        for path in compile_all():
            print(f"wrote {os.path.relpath(path, ROOT)}")
        return
    _messages, problems = extract()
    for problem in problems:
        print(problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
