"""The Builder's state as plain Python (no QGIS, no Qt; tested without them).

The Builder window edits one recipe, held here. Each widget is bound to a JSON path of the
recipe (``geography.size``, ``themes[0].issues[1].roles.victims.measure``): the view shows
``value(path)`` - the value given, or the recipe model's default - and writes ``set(path,
value)``. Which keys apply (``applies``), which are required, the choices a combo offers and how
they read (``choices``) come from the typed recipe model (``core.model`` / ``core.schema``) and
``core.vocab``; the problems shown are those of ``core.model.parse``, the function a run calls.

Everything outside the themes is one dict (``doc``, keys the window does not edit kept as they
are); the themes are a tree of ``Node`` s (theme > issue > role), each holding its part of the
recipe. The geography keeps the values of both kinds (grid and zones) so that switching back
and forth loses nothing; ``recipe()`` writes only the keys that apply. Paths are absolute inside
the window (``recipe(base_dir)`` makes them relative to a recipe file).

Layers are known only by id here: ``layer_name(layer_id)`` (given by the view) names a project
layer now, so a renamed layer stays the layer the recipe means.
"""
import copy
import itertools
import os

from composite_index_plugin.core import model as rm
from composite_index_plugin.core import vocab
from composite_index_plugin.core.schema import Context, Section
from composite_index_plugin.gui.recipe_paths import node_path, relativize, split_path

GLOBAL_SOURCES = ("study_area", "geography", "population", "admin_areas")
GRID_DEFAULTS = {"shape": "hexagon_flat", "size": 400}   # a new set-up's grid
KINDS = {"theme": rm.Theme, "issue": rm.Issue, "role": rm.Role}
CHILDREN = {"theme": "issues", "issue": "roles"}
# keys written only when they differ from their default (a switch that is on by default)
OMIT_DEFAULT = ("hotspots.enabled",)
# the readable texts of each choice: (section, key) -> {word: (label, tooltip)}
_SHAPES = {w: (t, "") for w, t in zip(vocab.GRID_SHAPES, vocab.GRID_SHAPE_TITLES)}
CHOICE_TEXTS = {
    (rm.Role, "measure"): vocab.MEASURE_TEXT, (rm.Role, "scaling"): vocab.SCALING_TEXT,
    (rm.Role, "direction"): vocab.DIRECTION_TEXT, (rm.Role, "missing"): vocab.MISSING_TEXT,
    (rm.Aggregation, "issue"): vocab.AGGREGATION_TEXT,
    (rm.Aggregation, "theme"): vocab.AGGREGATION_TEXT,
    (rm.Aggregation, "composite"): vocab.AGGREGATION_TEXT,
    (rm.Geography, "type"): vocab.GEOGRAPHY_TEXT, (rm.Geography, "shape"): _SHAPES,
}


def choice_list(section, key):
    """[(word, label, tooltip)] of a key with choices, from the recipe model and core.vocab."""
    texts = CHOICE_TEXTS.get((section, key), {})
    return [(w, vocab.label(texts, w), vocab.tip(texts, w)) for w in section.key(key).choices]


def role_choices(key):
    return choice_list(rm.Role, key)


def new_recipe():
    """An empty set-up: one theme with one issue, a 400 m hexagon grid."""
    return {"recipe_version": rm.RECIPE_VERSION, "name": "",
            "geography": dict(type="grid", **GRID_DEFAULTS),
            "aggregation": {"issue": "mean", "theme": "mean", "composite": "mean"},
            "themes": [{"name": "theme_1", "label": "Theme 1",
                        "issues": [{"name": "issue_1", "label": "Issue 1", "roles": {}}]}]}


class Check:
    """One problem (``level`` "error") or note ("warning"), located by its JSON path."""

    def __init__(self, path, message, hint="", level="error"):
        self.path, self.message, self.hint, self.level = path, message, hint, level

    def text(self):
        return self.message + (f" ({self.hint})" if self.hint else "")

    def __eq__(self, other):
        return isinstance(other, Check) and vars(self) == vars(other)

    def __repr__(self):
        return f"Check({self.path!r}, {self.message!r}, {self.level})"


class Node:
    """A theme, issue or role: ``data`` is its part of the recipe without its children."""

    _ids = itertools.count(1)

    def __init__(self, kind, data, key=None, layer_id=None):
        self.kind = kind
        self.key = key                  # the role (victims, offenders, locations)
        self.data = data
        self.children = []
        self.uid = next(Node._ids)      # stable while the tree changes (the view's handle)
        self.layer_id = layer_id        # roles: the project layer picked
        self.auto_name = kind != "role" and data.get("name") == vocab.slug(
            data.get("label") or data.get("name", ""), kind)


class BuilderModel:
    """The recipe being edited, with the layers picked for it (by id)."""

    def __init__(self, layer_name=None):
        self.layer_name = layer_name or (lambda _layer_id: None)
        self.recipe_path = None
        self.revision = 0
        self._geo = {}
        self.set_recipe(new_recipe())

    # ----- whole recipe ----------------------------------------------------------------------
    def set_recipe(self, recipe, layer_ids=None):
        """Show ``recipe`` (paths absolute). Raises ValueError (nothing changed) when its
        themes cannot be shown as a tree: themes, issues and roles that are not objects, or
        roles other than victims, offenders and locations."""
        recipe = copy.deepcopy(recipe) if isinstance(recipe, dict) else {}
        layer_ids = dict(layer_ids or {})
        themes = self._tree(recipe.pop("themes", None) or [], layer_ids)
        geo = recipe.pop("geography", None)
        geo = dict(geo) if isinstance(geo, dict) else {}
        if geo.get("type") != "grid":      # the grid's widgets keep their values meanwhile
            for key in GRID_DEFAULTS:
                if key not in geo and key in self._geo:
                    geo[key] = self._geo[key]
        self.doc, self._geo, self.themes = recipe, geo, themes
        self.layer_ids = {k: v for k, v in layer_ids.items() if k in GLOBAL_SOURCES}
        self.changed()

    @staticmethod
    def _tree(themes, layer_ids):
        def problem(path, what):
            raise ValueError(f"{path}: {what}")

        if not isinstance(themes, list):
            problem("themes", "must be a list")
        out = []
        for t, theme in enumerate(themes):
            if not isinstance(theme, dict) or not isinstance(theme.get("issues", []), list):
                problem(node_path(t), "must be an object with a list of issues")
            tnode = Node("theme", {k: v for k, v in theme.items() if k != "issues"})
            for i, issue in enumerate(theme.get("issues") or []):
                roles = issue.get("roles", {}) if isinstance(issue, dict) else None
                if not isinstance(roles, dict):
                    problem(node_path(t, i), "must be an object whose roles are an object")
                inode = Node("issue", {k: v for k, v in issue.items() if k != "roles"})
                for role in roles:
                    if role not in vocab.ROLES or not isinstance(roles[role], dict):
                        problem(node_path(t, i, role), "must be victims, offenders or locations, "
                                "each an object")
                for role in vocab.ROLES:
                    if role in roles:
                        inode.children.append(Node("role", dict(roles[role]), role,
                                                   layer_ids.get(node_path(t, i, role))))
                tnode.children.append(inode)
            out.append(tnode)
        return out

    def changed(self):
        self.revision += 1

    def recipe(self, base_dir=None):
        """The recipe the window shows, as JSON data; paths absolute, or relative to
        ``base_dir``."""
        doc = copy.deepcopy(self.doc)
        doc["recipe_version"] = rm.RECIPE_VERSION
        for key in ("name", "period"):
            if not str(doc.get(key) or "").strip():
                doc.pop(key, None)
        doc["geography"] = self._geography()
        for key in ("study_area", "population", "admin_areas"):
            part = doc.get(key)
            if isinstance(part, dict) and isinstance(part.get("source"), dict):
                part["source"] = self._named(self.doc[key], "source", self.layer_ids.get(key))
            else:
                doc.pop(key, None)
        doc["themes"] = [self._group(t) for t in self.themes]
        for key in ("hotspots", "output"):
            if doc.get(key) == {}:
                doc.pop(key)
        order = list(rm.Recipe.keys())
        out = {k: doc[k] for k in order if k in doc}
        out.update((k, v) for k, v in doc.items() if k not in out)
        return relativize(out, base_dir) if base_dir is not None else out

    def _geography(self):
        geo = {k: copy.deepcopy(v) for k, v in self._geo.items()}
        parsed = rm.Geography.parse(geo, Context(), "")
        out = {}
        for key, value in geo.items():
            decl = rm.Geography.keys().get(key)
            if decl is None or decl.when is None or _applies(decl, parsed):
                out[key] = value
        if isinstance(out.get("source"), dict):
            out["source"] = self._named(self._geo, "source", self.layer_ids.get("geography"))
        return out

    def _named(self, holder, key, layer_id):
        """A source naming a project layer follows the layer's current name."""
        source = holder[key]
        if "project_layer" in source and layer_id:
            name = self.layer_name(layer_id)
            if name and name != source["project_layer"]:
                holder[key] = source = {"project_layer": name}
        return copy.deepcopy(source)

    def _group(self, node):
        data = node.data
        out = {"name": data.get("name", ""), "label": data.get("label") or data.get("name", "")}
        if data.get("weight", 1) != 1:
            out["weight"] = data["weight"]
        out.update((k, copy.deepcopy(v)) for k, v in data.items() if k not in out and k != "weight")
        if node.kind == "theme":
            out["issues"] = [self._group(issue) for issue in node.children]
        else:
            out["roles"] = {role.key: self._role(role) for role in node.children}
        return out

    def _role(self, node):
        spec = {k: copy.deepcopy(v) for k, v in node.data.items() if v not in (None, "")}
        if isinstance(spec.get("source"), dict):
            spec["source"] = self._named(node.data, "source", node.layer_id)
        parsed = rm.Role.parse(spec, Context(), "")
        for key in list(spec):         # keys the measure or scaling chosen leaves out
            decl = rm.Role.keys().get(key)
            if decl is not None and decl.when is not None and not _applies(decl, parsed):
                del spec[key]
        return spec

    def state(self):
        """What the project keeps of the window."""
        return {"recipe": self.recipe(), "layer_ids": self.all_layer_ids(),
                "recipe_path": self.recipe_path}

    def all_layer_ids(self):
        """JSON path -> id of every layer picked from the project."""
        ids = {k: v for k, v in self.layer_ids.items() if v and self.has_source(k)}
        for path, node in self.walk():
            if node.kind == "role" and node.layer_id:
                ids[path] = node.layer_id
        return ids

    def problems(self):
        """The recipe's problems, as a run finds them (``core.model.parse``)."""
        return [Check(p.path, p.message, p.hint) for p in rm.parse(self.recipe())[1]]

    # ----- paths -----------------------------------------------------------------------------
    def _place(self, path, create=False):
        """(dict holding the key, key, Section class of that dict) for a path."""
        t, i, role, rest = split_path(path)
        if t is not None:
            node = self.node(node_path(t, i, role))
            return node.data, rest, KINDS[node.kind]
        head, _, rest = path.partition(".")
        if head == "geography":
            return self._geo, rest, rm.Geography
        if not rest:
            return self.doc, head, rm.Recipe
        part = self.doc.get(head)
        if not isinstance(part, dict):
            part = {}
            if create:
                self.doc[head] = part
        section = rm.Recipe.key(head).type if head in rm.Recipe.keys() else None
        return part, rest, section if isinstance(section, type) else None

    def get(self, path):
        """The value given at ``path`` (None when not given)."""
        holder, key, _ = self._place(path)
        return holder.get(key)

    def value(self, path):
        """The value given at ``path``, or the recipe model's default there."""
        holder, key, section = self._place(path)
        if holder.get(key) is not None:
            return holder[key]
        if section is None or key not in section.keys():
            return None
        return section.parse(copy.deepcopy(holder), Context(), "").get(key)

    def default(self, path):
        """The recipe model's default at ``path`` (what leaving the key out means there)."""
        holder, key, section = self._place(path)
        if section is None or key not in section.keys():
            return None
        rest = {k: copy.deepcopy(v) for k, v in holder.items() if k != key}
        return section.parse(rest, Context(), "").get(key)

    def _declaration(self, path):
        holder, key, section = self._place(path)
        if section is None or key not in section.keys():
            return holder, None, None
        return holder, section.key(key), section.parse(copy.deepcopy(holder), Context(), "")

    def applies(self, path):
        """Does the key at ``path`` apply (e.g. ``per`` to a rate, ``size`` to a grid)?"""
        _holder, decl, parsed = self._declaration(path)
        return decl is None or decl.when is None or _applies(decl, parsed)

    def required(self, path):
        """Must the key at ``path`` be given (e.g. a rate's denominator)?"""
        _holder, decl, parsed = self._declaration(path)
        return decl is not None and bool(_safe(lambda: decl.is_required(parsed, "recipe")))

    def choices(self, path):
        """[(word, label, tooltip)] a combo offers at ``path``, from the recipe model and
        core.vocab."""
        _holder, key, section = self._place(path)
        if section is None or key not in section.keys() or section.key(key).choices is None:
            return []
        return choice_list(section, key)

    def help(self, path):
        """The help text of the key at ``path`` (with its units)."""
        _holder, decl, _parsed = self._declaration(path)
        if decl is None:
            return ""
        return decl.help + (f" (in {decl.units})" if decl.units else "")

    def set(self, path, value):
        """Set the key at ``path``; None or "" removes it."""
        holder, key, section = self._place(path, create=True)
        if value is None or value == "" or (path in OMIT_DEFAULT and section is not None
                                            and value == section.key(key).default):
            holder.pop(key, None)
            head = path.split(".")[0]
            if head in self.doc and self.doc[head] == {} and head not in GLOBAL_SOURCES:
                del self.doc[head]
        else:
            holder[key] = value
        t, i, role, rest = split_path(path)
        if t is not None:
            self._node_rules(self.node(node_path(t, i, role)), rest, value)
        elif path == "geography.type" and value == "grid":
            for k, v in GRID_DEFAULTS.items():
                self._geo.setdefault(k, v)
        elif path == "output.folder" and value:
            holder[key] = os.path.abspath(os.path.expanduser(value))
        self.changed()

    def _node_rules(self, node, key, value):
        data = node.data
        if key == "label" and node.auto_name:       # the name follows the label until edited
            data["name"] = vocab.slug(value or "", node.kind)
        elif key == "name":
            data["name"] = (value or "").strip()
            node.auto_name = False
        elif key == "measure" and node.kind == "role":
            if value in vocab.NEEDS_DENOMINATOR:
                data.setdefault("denominator", "population")
            if value in vocab.PER_MEASURES:
                data.setdefault("per", int(self.value(self.path_of(node) + ".per") or 1000))

    # ----- sources ---------------------------------------------------------------------------
    def has_source(self, key):
        holder = self._geo if key == "geography" else self.doc.get(key)
        return isinstance(holder, dict) and isinstance(holder.get("source"), dict)

    def source(self, path):
        """The source of a global section (study_area, geography, ...) or of a role."""
        node = self._role_node(path)
        if node is not None:
            return node.data.get("source")
        holder = self._geo if path == "geography" else self.doc.get(path)
        return holder.get("source") if isinstance(holder, dict) else None

    def layer_id(self, path):
        node = self._role_node(path)
        return node.layer_id if node is not None else self.layer_ids.get(path)

    def set_source(self, path, source, layer_id=None):
        """The layer picked for a global section or a role (None: none)."""
        node = self._role_node(path)
        if node is not None:
            holder, node.layer_id = node.data, layer_id if source else None
        else:
            holder = self._geo if path == "geography" else self.doc.setdefault(path, {})
            self.layer_ids[path] = layer_id if source else None
        if source:
            holder["source"] = copy.deepcopy(source)
        else:
            holder.pop("source", None)
        self.changed()

    def attach_layer(self, path, layer_id):
        """The project layer (just added) that a source is read from."""
        node = self._role_node(path)
        if node is not None:
            node.layer_id = layer_id
        else:
            self.layer_ids[path] = layer_id

    def forget_layers(self, ids):
        """Layers removed from the project: the recipe keeps the sources they were read from."""
        ids = set(ids)
        for key, layer_id in list(self.layer_ids.items()):
            if layer_id in ids:
                self.layer_ids[key] = None
        for _path, node in self.walk():
            if node.layer_id in ids:
                node.layer_id = None

    def _role_node(self, path):
        t, i, role, rest = split_path(path)
        if role is None or rest:
            return None
        return self.node(path)

    # ----- the tree --------------------------------------------------------------------------
    def walk(self):
        """(path, node) of every theme, issue and role, in document order."""
        for t, theme in enumerate(self.themes):
            yield node_path(t), theme
            for i, issue in enumerate(theme.children):
                yield node_path(t, i), issue
                for role in issue.children:
                    yield node_path(t, i, role.key), role

    def node(self, path):
        """The node at a theme, issue or role path (KeyError when there is none)."""
        t, i, role, rest = split_path(path)
        if t is None or rest:
            raise KeyError(path)
        try:
            node = self.themes[t]
            if i is not None:
                node = node.children[i]
            if role is not None:
                node = next(r for r in node.children if r.key == role)
        except (IndexError, StopIteration):
            raise KeyError(path) from None
        return node

    def find(self, path):
        try:
            return self.node(path)
        except KeyError:
            return None

    def path_of(self, node):
        for path, other in self.walk():
            if other is node:
                return path
        raise KeyError(node.uid)

    def by_uid(self, uid):
        return next((n for _p, n in self.walk() if n.uid == uid), None)

    def add_theme(self, label=None):
        label = label or f"Theme {len(self.themes) + 1}"
        self.themes.append(Node("theme", {"name": vocab.slug(label, "theme"), "label": label}))
        self.changed()
        return node_path(len(self.themes) - 1)

    def add_issue(self, theme_path=None, label=None):
        theme = self.find(theme_path) if theme_path else None
        if theme is None or theme.kind != "theme":
            theme = self.node(self.add_theme())
        count = sum(len(t.children) for t in self.themes)
        label = label or f"Issue {count + 1}"
        theme.children.append(Node("issue", {"name": vocab.slug(label, "issue"), "label": label}))
        self.changed()
        return self.path_of(theme.children[-1])

    def add_role(self, issue_path, role):
        """Add a role to an issue (where it belongs: victims, offenders, locations); an issue has
        each role once, so an existing one is returned."""
        issue = self.node(issue_path)
        for child in issue.children:
            if child.key == role:
                return self.path_of(child)
        spec = {key: rm.Role.key(key).default for key in ("measure", "scaling", "direction")}
        spec["weight"] = 1
        position = sum(1 for c in issue.children
                       if vocab.ROLES.index(c.key) < vocab.ROLES.index(role))
        issue.children.insert(position, Node("role", spec, role))
        self.changed()
        return node_path(*split_path(issue_path)[:2], role)

    def remove(self, path):
        node = self.node(path)
        self._siblings(path).remove(node)
        self.changed()

    def _siblings(self, path):
        t, i, role, _rest = split_path(path)
        if role is not None:
            return self.themes[t].children[i].children
        if i is not None:
            return self.themes[t].children
        return self.themes

    def move(self, path, step):
        """Move a theme or issue up (-1) or down (+1); an issue at the edge of its theme moves
        into the next (or previous) theme. Returns its new path (None: it cannot move)."""
        node = self.node(path)
        if node.kind == "role":
            return None
        siblings = self._siblings(path)
        index = siblings.index(node)
        target = index + step
        if 0 <= target < len(siblings):
            siblings.insert(target, siblings.pop(index))
        elif node.kind == "issue":
            t = split_path(path)[0] + step
            if not 0 <= t < len(self.themes):
                return None
            siblings.pop(index)
            issues = self.themes[t].children
            issues.insert(len(issues) if step < 0 else 0, node)
        else:
            return None
        self.changed()
        return self.path_of(node)


def _applies(decl, parsed):
    return isinstance(parsed, Section) and bool(_safe(lambda: decl.applies(parsed)))


def _safe(func):
    try:
        return func()
    except (TypeError, ValueError, AttributeError):   # a sibling holds an invalid value
        return False
