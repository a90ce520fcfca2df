"""One module and one .kv file per screen."""

from __future__ import annotations

from typing import Any

from kivy.app import App
from kivy.uix.screenmanager import Screen


class Page(Screen):
    """A screen that reloads what it shows from the service each time it comes to the front."""

    @property
    def app(self) -> Any:
        return App.get_running_app()

    def on_pre_enter(self, *_: object) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Reload from the service (overridden by screens that show data)."""
