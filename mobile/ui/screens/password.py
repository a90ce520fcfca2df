"""修改密码: shown when the server requires a new password before anything else (first log-in,
a reset by an administrator)."""

from __future__ import annotations

from kivy.properties import BooleanProperty, StringProperty

from mobile.ui.screens import Page


class PasswordScreen(Page):
    old_password = StringProperty("")
    error = StringProperty("")
    busy = BooleanProperty(False)

    def submit(self) -> None:
        new, again = self.ids.new.text, self.ids.again.text
        if not new:
            self.error = "请输入新密码"
            return
        if new != again:
            self.error = "两次输入的新密码不一致"
            return
        self.error = ""
        self.busy = True
        old = self.old_password
        self.app.call(lambda svc: svc.change_password(old, new), then=self._done, error=self._failed)

    def _done(self, reason: str | None) -> None:
        self.busy = False
        if reason:  # the server's rule, in Chinese (too short, same as before, …)
            self.error = reason
            return
        self.old_password = ""
        self.ids.new.text = self.ids.again.text = ""
        self.app.after_login()

    def _failed(self, message: str) -> None:
        self.busy = False
        self.error = message
