"""Small helpers shared by the Processing tests."""
from qgis.core import QgsProcessingFeedback


class RecordingFeedback(QgsProcessingFeedback):
    """Keeps what an algorithm reports: ``text`` (infos and errors in order), ``warnings``."""

    def __init__(self):
        super().__init__()
        self.text = []
        self.warnings = []

    def pushInfo(self, info):
        self.text.append(info)

    def reportError(self, error, fatalError=False):
        self.text.append(error)

    def pushWarning(self, warning):
        self.warnings.append(warning)
        self.text.append(warning)

    def all(self):
        return "\n".join(self.text)
