"""A small declarative schema: each key of a section is declared once, with its type (the
annotation), default, allowed values, range, units and help text, and everything else - the
parser, the round trip, the docs tables and the toolbox defaults - reads that declaration.

    class Hotspots(Section):
        '''Hotspot analysis of the index.'''
        permutations: int = Key(0, minimum=0, maximum=99999, units="permutations",
                                help="0 = analytic p-values")

``Section.parse(doc, ctx, path)`` checks one object and everything inside it in one pass and
adds every problem to ``ctx`` with its JSON path and a fix; an unknown key is always a problem.
Values are kept as given (an int stays an int), unknown keys and invalid values too, so
``to_dict()`` gives back the document it was parsed from. Reading a key that was not given
returns its default (None when it does not apply: see ``when``).

Types (annotations): ``bool``, ``int``, ``float``, ``str`` and the text kinds ``Name``,
``Path``, ``Expression``, ``Crs``, ``FieldName``; a ``Section`` subclass; ``list[T]``;
``dict[str, T]`` (allowed keys in ``Key(keys=...)``); ``Union[A, B]`` of a text and a section.
"""
import math
import typing

from composite_index_plugin.core.errors import Problem
from composite_index_plugin.core.vocab import NAME_HINT, is_name


class Name(str):
    """A name that becomes part of field names: lowercase letters, digits and _."""


class Path(str):
    """A file or folder path, relative to the recipe file's folder."""


class Expression(str):
    """A QGIS expression (a filter)."""


class Crs(str):
    """A CRS id such as EPSG:27700."""


class FieldName(str):
    """The name of a field of a layer."""


TEXT_KINDS = (str, Name, Path, Expression, Crs, FieldName)
TYPE_WORDS = {bool: "true/false", int: "whole number", float: "number", str: "text",
              Name: "name", Path: "path", Expression: "QGIS expression", Crs: "CRS id",
              FieldName: "field name"}
_NOTHING = object()


class Context:
    """Where parse() puts the problems it finds; ``mode`` is "recipe" or "spec"."""

    def __init__(self, mode: str = "recipe"):
        self.mode = mode
        self.problems: list = []

    def add(self, path: str, message: str, hint: str = "") -> None:
        self.problems.append(Problem(path or "$", message, hint))


def join(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def type_name(value) -> str:
    """How a JSON value is called in a message."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    return {dict: "an object", list: "a list", str: "a text", type(None): "null"}.get(
        type(value), type(value).__name__)


class Key:
    """The declaration of one key of a section.

    ``default``: the value when the key is not given (a value, or a function of the section).
    ``factory``: a zero-argument callable (a Section class, ``list``) making the default on
    first use, kept so that changes to it stay. ``required``: True, or "recipe" / "spec" to
    require it in that mode only. ``when``: ``(key, values)`` or ``(function, text)``: the key
    applies only then (given otherwise it is a problem; its value is then None).
    ``required_when``: ``(key, values)``: required then. ``choices``: allowed values (of each
    item, for lists); ``positions``: an enum position of the choices is accepted too (recipes
    of version 1 wrote some so). ``minimum`` / ``above`` / ``maximum``: range. ``keys``: the
    allowed keys of a ``dict[str, T]``. ``length``: exact length of a list; ``nonempty``.
    ``empty``: an empty text is allowed. ``units``, ``help``, ``hint`` (what to do when the key
    is wrong or missing), ``example``: for messages and the docs.
    """

    def __init__(self, default=None, *, factory=None, required=False, when=None,
                 required_when=None, choices=None, positions=False, minimum=None, above=None,
                 maximum=None, keys=None, length=None, nonempty=False, empty=False, units="",
                 help="", hint="", example=None, doc_default=None, fallback=None, what=None,
                 json=None, type_=None):
        self.default = default
        self.factory = factory
        self.required = required
        self.when = when
        self.required_when = required_when
        self.choices = tuple(choices) if choices is not None else None
        self.positions = positions
        self.minimum, self.above, self.maximum = minimum, above, maximum
        self.keys = tuple(keys) if keys is not None else None
        self.length = length
        self.nonempty = nonempty
        self.empty = empty
        self.units = units
        self.help = help
        self.hint = hint
        self.example = example
        self.doc_default = doc_default
        self.fallback = fallback   # name of a sub-section that may also give this key
        self.what = what           # how a value is called in messages (default: the key)
        self.json = json           # the JSON key when it cannot be the attribute (`import`)
        self.type_ = type_         # the type, when not given by an annotation
        self.name = None           # the JSON key
        self.attr = None           # the attribute
        self.owner = None

    def __set_name__(self, owner, attr):
        self.attr = attr
        self.name = self.json or attr
        self.owner = owner

    def copy(self):
        new = Key.__new__(Key)
        new.__dict__.update(self.__dict__)
        return new

    # ----- the value on a section
    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        if self.name in obj._values:
            return obj._values[self.name]
        if self.fallback is not None:
            sub = obj._values.get(self.fallback)
            if isinstance(sub, Section) and sub.given(self.name):
                return getattr(sub, self.name)
        return self.default_on(obj)

    def __set__(self, obj, value):
        obj._set(self.name, value)

    def __delete__(self, obj):
        obj.unset(self.name)

    def default_on(self, obj):
        """The default of this key on ``obj`` (None when it does not apply there)."""
        if not self.applies(obj):
            return None
        if self.factory is not None:
            if self.name not in obj._implicit:
                obj._implicit[self.name] = self.factory()
            return obj._implicit[self.name]
        if callable(self.default):
            return self.default(obj)
        return self.default

    def applies(self, obj) -> bool:
        return self.when is None or _holds(self.when, obj)

    def is_required(self, obj, mode) -> bool:
        if self.required is True or self.required == mode:
            return self.applies(obj)
        return self.required_when is not None and _holds(self.required_when, obj)

    @property
    def type(self):
        return self.type_ or self.owner.types()[self.name]

    def condition_text(self) -> str:
        return _condition_text(self.when)


def _holds(condition, obj) -> bool:
    first, second = condition
    if callable(first):
        return bool(first(obj))
    return obj.get(first) in second


def _condition_text(condition) -> str:
    if condition is None:
        return ""
    first, second = condition
    if callable(first):
        return second
    return f"{first} " + " or ".join(f"`{v}`" for v in second)


class Section:
    """A JSON object of the recipe: subclasses declare their keys with ``Key``.

    ``given(key)`` says whether the document gave the key; ``to_dict()`` writes the object
    back; ``check(ctx, path)`` (override) adds the rules between keys of this section.
    """

    _key_cache: dict = {}

    def __init__(self, **values):
        self._values = {}
        self._implicit = {}
        self._extra = {}
        self._order = []
        for name, value in values.items():
            if name not in self.keys():
                raise TypeError(f"{type(self).__name__} has no key {name!r}")
            self._set(name, value)

    # ----- declarations
    @classmethod
    def keys(cls) -> dict:
        """{name: Key} in declaration order (inherited keys first)."""
        found = Section._key_cache.get(cls)
        if found is None:
            found = {}
            for klass in reversed(cls.__mro__):
                for value in vars(klass).values():
                    if isinstance(value, Key):
                        found[value.name] = value   # a redeclared key keeps its place
            Section._key_cache[cls] = found
        return found

    @classmethod
    def types(cls) -> dict:
        """{JSON key: type} from the annotations (or ``Key(type_=...)``)."""
        cache = cls.__dict__.get("_types_cache")
        if cache is None:
            hints = {}
            for klass in reversed(cls.__mro__):
                if klass is not object:
                    hints.update(typing.get_type_hints(klass))
            cache = {name: key.type_ or hints[key.attr] for name, key in cls.keys().items()}
            cls._types_cache = cache
        return cache

    def get(self, name):
        """The value of the key ``name`` (its JSON name)."""
        return self.keys()[name].__get__(self)

    @classmethod
    def key(cls, name) -> Key:
        return cls.keys()[name]

    # ----- values
    def _set(self, name, value):
        if name not in self._values and name not in self._extra:
            self._order.append(name)
        self._values[name] = value
        self._implicit.pop(name, None)

    def given(self, name) -> bool:
        return name in self._values

    def unset(self, name) -> None:
        self._values.pop(name, None)
        self._implicit.pop(name, None)
        if name in self._order and name not in self._extra:
            self._order.remove(name)

    def has_content(self) -> bool:
        return bool(self._values or self._extra) or any(
            isinstance(v, Section) and v.has_content() for v in self._implicit.values())

    def to_dict(self) -> dict:
        """The section as JSON data: the keys given (in their order), unknown keys included."""
        out = {}
        for name in self._order:
            if name in self._values:
                out[name] = _to_json(self._values[name])
            elif name in self._extra:
                out[name] = self._extra[name]
        for name, value in self._implicit.items():
            if name not in out and isinstance(value, Section) and value.has_content():
                out[name] = value.to_dict()
        return out

    def __eq__(self, other):
        return type(other) is type(self) and other.to_dict() == self.to_dict()

    def __repr__(self):
        return f"{type(self).__name__}({self.to_dict()!r})"

    # ----- parsing
    @classmethod
    def parse(cls, value, ctx: Context, path: str = ""):
        """A section from JSON data; every problem goes into ``ctx``. Not an object -> the
        value itself (kept for the round trip; the problem says what to write)."""
        if not isinstance(value, dict):
            ctx.add(path, f"must be an object, not {type_name(value)}",
                    cls.object_hint())
            return value
        obj = cls()
        known = cls.keys()
        for name, raw in value.items():
            if name not in known:
                obj._extra[name] = raw
                obj._order.append(name)
                ctx.add(join(path, name), "is not a known key",
                        "known keys here: " + ", ".join(known))
                continue
            obj._set(name, parse_value(cls.types()[name], known[name], raw, ctx,
                                       join(path, name)))
        obj.check_keys(ctx, path)
        obj.check(ctx, path)
        return obj

    @classmethod
    def object_hint(cls) -> str:
        example = getattr(cls, "EXAMPLE", None)
        return f"write e.g. {example}" if example else "use { ... }"

    def check_keys(self, ctx: Context, path: str) -> None:
        """Required keys, and keys given where they do not apply."""
        for name, key in self.keys().items():
            if self.given(name) or (key.fallback and isinstance(
                    self._values.get(key.fallback), Section)
                    and self._values[key.fallback].given(name)):
                if key.when is not None and not _safe(key.applies, self) \
                        and self._valid_condition(key.when):
                    first, second = key.when
                    if callable(first):
                        ctx.add(join(path, name), "does not apply here", f"it is for {second}")
                    else:
                        ctx.add(join(path, name),
                                f"'{name}' does not apply to {first} {self.get(first)!r}",
                                f"remove it, or use a {first} it applies to: "
                                + ", ".join(second))
            elif _safe(lambda o, k=key: k.is_required(o, ctx.mode), self):
                first = key.required_when[0] if key.required_when else None
                if isinstance(first, str) and not (key.required is True or key.required == ctx.mode):
                    ctx.add(join(path, name), f"{first} {self.get(first)!r} needs '{name}'",
                            key.hint or _missing_hint(key))
                else:
                    ctx.add(join(path, name), "is missing", key.hint or _missing_hint(key))

    def _valid_condition(self, condition) -> bool:
        """False when the key a condition reads holds a wrong value (reported already)."""
        first, _ = condition
        if callable(first):
            return True
        key = self.keys()[first]
        value = self.get(first)
        return key.choices is None or value in key.choices

    def check(self, ctx: Context, path: str) -> None:
        """Rules between keys of this section (override)."""

    # ----- walking
    def walk(self, path: str = ""):
        """(path, section) of this section and every section inside it, document order."""
        yield path, self
        for name in self._order:
            value = self._values.get(name)
            yield from _walk_value(value, join(path, name))


def _walk_value(value, path):
    if isinstance(value, Section):
        yield from value.walk(path)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk_value(item, join(path, i))
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from _walk_value(item, join(path, k))


def _safe(func, obj):
    try:
        return func(obj)
    except (TypeError, ValueError, AttributeError):  # a sibling holds an invalid value
        return False


def _missing_hint(key: Key) -> str:
    text = "add it"
    if key.example is not None:
        text += f', e.g. "{key.name}": {key.example}'
    if key.help:
        text += f" ({key.help})"
    return text


def _to_json(value):
    if isinstance(value, Section):
        return value.to_dict()
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    return value


# -------------------------------------------------------------------------------- the values
def parse_value(tp, key: Key, value, ctx: Context, path: str):
    """``value`` checked against type ``tp`` and ``key``'s constraints; returns the parsed
    value (sections parsed, scalars as given) or ``value`` itself when it is wrong."""
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        options = typing.get_args(tp)
        sections = [t for t in options if isinstance(t, type) and issubclass(t, Section)]
        if isinstance(value, dict) and sections:
            return sections[0].parse(value, ctx, path)
        texts = [t for t in options if t in TEXT_KINDS]
        if isinstance(value, str) and texts:
            return parse_value(texts[0], key, value, ctx, path)
        ctx.add(path, f"must be {' or '.join(_type_phrase(t) for t in options)}, not "
                      f"{type_name(value)}", key.hint or (f"e.g. {key.example}" if key.example
                                                        else "see the recipe guide"))
        return value
    if origin is list:
        if not isinstance(value, list):
            ctx.add(path, f"must be a list, not {type_name(value)}",
                    key.hint or (f"e.g. {key.example}" if key.example else "use [ ... ]"))
            return value
        if key.nonempty and not value:
            ctx.add(path, "must be a non-empty list", key.hint or "give at least one")
            return value
        if key.length is not None and len(value) != key.length:
            ctx.add(path, f"must have {key.length} items, not {len(value)}",
                    key.hint or f"e.g. {key.example}")
            return value
        (item,) = typing.get_args(tp)
        return [parse_value(item, key, v, ctx, join(path, i)) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            ctx.add(path, f"must be an object, not {type_name(value)}",
                    key.hint or "use { ... }")
            return value
        if key.nonempty and not value:
            ctx.add(path, "must not be empty", key.hint or "give at least one")
        _, item = typing.get_args(tp)
        out = {}
        for name, v in value.items():
            if key.keys is not None and name not in key.keys:
                ctx.add(join(path, name), "is not a known key",
                        "known keys here: " + ", ".join(key.keys))
                out[name] = v
                continue
            if key.keys is None and not is_name(name):
                ctx.add(join(path, name), f"{name!r} is not a valid name", NAME_HINT)
            out[name] = parse_value(item, key, v, ctx, join(path, name))
        return out
    if isinstance(tp, type) and issubclass(tp, Section):
        return tp.parse(value, ctx, path)
    return _scalar(tp, key, value, ctx, path)


def _type_phrase(tp) -> str:
    if isinstance(tp, type) and issubclass(tp, Section):
        return "an object"
    return "a " + TYPE_WORDS.get(tp, getattr(tp, "__name__", str(tp)))


def _scalar(tp, key: Key, value, ctx: Context, path: str):
    if key.choices is not None and key.positions and isinstance(value, int) \
            and not isinstance(value, bool) and 0 <= value < len(key.choices):
        return value  # an enum position, as version 1 recipes may write it
    if tp is bool:
        if not isinstance(value, bool):
            ctx.add(path, f"must be true or false, not {type_name(value)}",
                    key.hint or "write true or false (no quotes)")
        return value
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            ctx.add(path, f"must be a number, not {type_name(value)}",
                    key.hint or _range_hint(key, tp))
            return value
        if not math.isfinite(value):
            ctx.add(path, "must be a finite number", key.hint or _range_hint(key, tp))
            return value
        if tp is int and int(value) != value:
            ctx.add(path, f"must be a whole number, not {value!r}", key.hint or _range_hint(key, tp))
            return value
        if key.choices is not None and value not in key.choices:
            return _unknown_choice(key, value, ctx, path)
        if key.minimum is not None and value < key.minimum:
            ctx.add(path, f"must be at least {key.minimum}, not {value!r}", _range_hint(key, tp))
        elif key.above is not None and value <= key.above:
            ctx.add(path, f"must be greater than {key.above}, not {value!r}", _range_hint(key, tp))
        elif key.maximum is not None and value > key.maximum:
            ctx.add(path, f"must be at most {key.maximum}, not {value!r}", _range_hint(key, tp))
        return value
    if tp in TEXT_KINDS:
        if not isinstance(value, str) or (not key.empty and not value.strip()):
            ctx.add(path, f"must be a non-empty text, not {type_name(value)}",
                    key.hint or (f'e.g. "{key.example}"' if key.example else "write it in quotes"))
            return value
        if key.choices is not None and value not in key.choices:
            return _unknown_choice(key, value, ctx, path)
        if tp is Name and not is_name(value):
            ctx.add(path, f"{value!r} is not a valid name", NAME_HINT)
        return value
    raise TypeError(f"no parser for {tp!r}")  # a declaration error, found by the tests


def _unknown_choice(key: Key, value, ctx: Context, path: str):
    ctx.add(path, f"unknown {key.what or key.name} {value!r}",
            key.hint or "choose one of: " + ", ".join(str(c) for c in key.choices))
    return value


def _range_hint(key: Key, tp) -> str:
    parts = []
    if key.minimum is not None:
        parts.append(f">= {key.minimum}")
    if key.above is not None:
        parts.append(f"> {key.above}")
    if key.maximum is not None:
        parts.append(f"<= {key.maximum}")
    what = "a whole number" if tp is int else "a number"
    text = f"give {what}" + (" " + " and ".join(parts) if parts else "")
    if key.units:
        text += f", in {key.units}"
    return text


# -------------------------------------------------------------------------------- the docs
def type_text(tp, section_name=None) -> str:
    """How a type is written in the docs tables; ``section_name(cls)`` names a section."""
    origin = typing.get_origin(tp)
    if origin is typing.Union:
        return " or ".join(type_text(t, section_name) for t in typing.get_args(tp))
    if origin is list:
        return "list of " + type_text(typing.get_args(tp)[0], section_name)
    if origin is dict:
        return "object of " + type_text(typing.get_args(tp)[1], section_name)
    if isinstance(tp, type) and issubclass(tp, Section):
        return section_name(tp) if section_name else f"`{tp.__name__}`"
    return TYPE_WORDS.get(tp, str(tp))


def default_text(key: Key) -> str:
    if key.doc_default is not None:
        return key.doc_default
    if key.required is True:
        return "required"
    if key.factory is not None or callable(key.default):
        return ""
    if key.default is None:
        return "required in a recipe" if key.required == "recipe" else ""
    if isinstance(key.default, bool):
        return "`true`" if key.default else "`false`"
    if isinstance(key.default, str):
        return f"`{key.default}`"
    return f"`{key.default:g}`" if isinstance(key.default, float) else f"`{key.default}`"


def allowed_text(key: Key) -> str:
    parts = []
    if key.choices is not None:
        parts.append(", ".join(f"`{c}`" for c in key.choices))
    if key.keys is not None:
        parts.append("keys " + ", ".join(f"`{c}`" for c in key.keys))
    rng = []
    if key.minimum is not None:
        rng.append(f">= {key.minimum:g}")
    if key.above is not None:
        rng.append(f"> {key.above:g}")
    if key.maximum is not None:
        rng.append(f"<= {key.maximum:g}")
    if rng:
        parts.append(" and ".join(rng))
    if key.length is not None:
        parts.append(f"{key.length} items")
    if key.when is not None:
        parts.append("only with " + key.condition_text())
    return "; ".join(parts)


def doc_rows(cls, section_name=None) -> list:
    """One row per key (in ``cls.DOC_ORDER`` first when it has one): (key, type, default,
    allowed values, units, help)."""
    names = list(cls.keys())
    order = getattr(cls, "DOC_ORDER", ())
    names.sort(key=lambda n: order.index(n) if n in order else len(order))
    return [(name, type_text(cls.keys()[name].type, section_name), default_text(cls.key(name)),
             allowed_text(cls.key(name)), cls.key(name).units, cls.key(name).help)
            for name in names]
