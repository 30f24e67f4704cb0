"""Small helpers shared by the Processing tests."""
from qgis.core import QgsProcessingFeedback


class RecordingFeedback(QgsProcessingFeedback):
    """Keeps what an algorithm reports: ``text`` (infos and errors in order), ``warnings``."""

    def __init__(self):
        super().__init__()
        self.text = []
        self.warnings = []

    def pushInfo(self, info):  # noqa: N802 (Qt name)
        self.text.append(info)

    def reportError(self, error, fatalError=False):  # noqa: N802, N803 (Qt names)
        self.text.append(error)

    def pushWarning(self, warning):  # noqa: N802 (Qt name)
        self.warnings.append(warning)
        self.text.append(warning)

    def all(self):
        return "\n".join(self.text)
