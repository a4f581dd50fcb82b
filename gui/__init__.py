"""PySide6 + pyqtgraph windows (imported lazily: the core never needs Qt)."""
