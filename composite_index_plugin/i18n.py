"""Translations of the plugin's own words (menus, the Builder, the Processing algorithms).

Writing a translatable string:
- ``tr("Text")`` (this module's, or an algorithm's ``self.tr("Text")``): a string literal, never
  a variable or an f-string, so ``scripts/translations.py`` can extract it. Values go in afterwards:
  ``tr("Opened {name}").format(name=name)``.
- Texts kept in class attributes or tables (an algorithm's DISPLAY_NAME, GROUP and HELP, a list
  of choices) are marked where they are written, ``QT_TRANSLATE_NOOP("CompositeIndex", "Text")``,
  and translated where they are shown, ``translated(value)``.
- The Builder's form (``ui/builder_dock.ui``) is translated by Qt when it is loaded (context
  ``BuilderDock``).

All code strings share one context, ``CompositeIndex``. ``make ts`` writes the template
``i18n/composite_index.ts`` (and brings any ``i18n/composite_index_<locale>.ts`` up to date);
translators fill a copy in Qt Linguist; ``make qm`` compiles them to ``.qm`` (the plugin ZIP
gets them too). When the plugin loads, ``install()`` loads the catalogue for the QGIS locale
from ``i18n/``: ``composite_index_pt_BR.qm``, else ``composite_index_pt.qm``.
"""
import os

from qgis.PyQt.QtCore import QCoreApplication, QSettings, QTranslator

from composite_index_plugin.paths import plugin_root

CONTEXT = "CompositeIndex"
CATALOGUE = "composite_index"


def tr(text):
    """``text`` (a string literal) in the user's language."""
    return QCoreApplication.translate(CONTEXT, text)


def translated(text):
    """A text marked elsewhere with ``QT_TRANSLATE_NOOP("CompositeIndex", ...)``, translated."""
    return QCoreApplication.translate(CONTEXT, text) if text else text


def i18n_folder():
    return os.path.join(plugin_root(), "i18n")


def qgis_locale():
    """The locale QGIS runs in ("de", "pt_BR"): QGIS's own choice (its override setting or the
    system's), else the setting QGIS keeps it in."""
    try:
        from qgis.core import QgsApplication

        locale = QgsApplication.locale()
    except Exception:  # noqa: BLE001 - no QgsApplication: the setting
        locale = ""
    return str(locale or QSettings().value("locale/userLocale", "") or "")


def catalogue(locale=None, folder=None):
    """The .qm file for ``locale`` (full name first, then the language), or None."""
    locale = (locale if locale is not None else qgis_locale()).replace("-", "_")
    folder = folder or i18n_folder()
    for name in dict.fromkeys([locale, locale.split("_")[0]]):
        if not name:
            continue
        path = os.path.join(folder, f"{CATALOGUE}_{name}.qm")
        if os.path.isfile(path):
            return path
    return None


def install(locale=None, folder=None):
    """Load and install the catalogue for the QGIS locale; returns the QTranslator (keep it,
    and ``remove`` it when the plugin unloads) or None when there is none for this locale."""
    path = catalogue(locale, folder)
    if path is None:
        return None
    translator = QTranslator()
    if not translator.load(path):
        return None
    QCoreApplication.installTranslator(translator)
    return translator


def remove(translator):
    if translator is not None:
        QCoreApplication.removeTranslator(translator)
