"""Find the plugin's data folders whether running from the repository or an installed ZIP.

In the repository ``metadata.txt``, ``resources/`` and ``ui/`` sit beside the package
folder; in the installed plugin (and the ZIP) they sit inside it.
"""
import os

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def plugin_root():
    """Folder holding ``metadata.txt``, ``resources/`` and ``ui/``."""
    if os.path.exists(os.path.join(PACKAGE_DIR, "metadata.txt")):
        return PACKAGE_DIR
    return os.path.dirname(PACKAGE_DIR)


def resource_path(*parts):
    return os.path.join(plugin_root(), "resources", *parts)


def ui_path(*parts):
    return os.path.join(plugin_root(), "ui", *parts)


def metadata():
    """The ``[general]`` section of metadata.txt as a dict."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(os.path.join(plugin_root(), "metadata.txt"), encoding="utf-8")
    return dict(parser["general"])


def version():
    return metadata().get("version", "0")
