"""登录: server URL, user name, password. The service keeps the token and downloads the
worker's grids and the category catalogue for offline use; a forced password change follows
when the server asks for one."""

from __future__ import annotations

from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from mobile.ui.screens import Page


class LoginScreen(Page):
    error = StringProperty("")
    busy = BooleanProperty(False)

    def refresh(self) -> None:
        if self.app.server_url and not self.ids.server.text:
            self.ids.server.text = self.app.server_url

    def submit(self) -> None:
        server, username, password = (self.ids.server.text.strip(), self.ids.username.text.strip(),
                                      self.ids.password.text)
        missing = [label for label, value in (("服务器地址", server), ("用户名", username), ("密码", password))
                   if not value]
        if missing:
            self.error = "请填写" + "、".join(missing)
            return
        self.error = ""
        self.busy = True
        self.app.call(lambda svc: svc.login(server, username, password),
                      then=lambda result: self._done(result, password), error=self._failed)

    def _done(self, result: Any, password: str) -> None:
        self.busy = False
        if not result.ok:
            self.error = result.error or "登录失败"
            return
        self.ids.password.text = ""
        self.app.server_url = self.ids.server.text.strip()
        if result.must_change_password:
            self.manager.get_screen("password").old_password = password
            self.app.go("password")
        else:
            self.app.after_login()

    def _failed(self, message: str) -> None:
        self.busy = False
        self.error = message
