"""The password policy, one rule set for the API, the CLI, the roster import, the app and the dashboard.

Length alone lets `1234567890` and `password123` through, so a password must also not be one of
the 30,000 most common passwords nor a guessable pattern (keyboard rows, repeats, sequences, dates,
the user's own name or phone, Chinese stems such as woaini or 5201314): zxcvbn (Dropbox's
estimator, with its shipped frequency lists) scores
guessability; we require its score 3 ("safely unguessable", about 10^8 guesses). Every refusal
names the rule in Chinese and English; `GET /auth/password-policy` publishes the same rules.
Initial and reset passwords are generated here too, and always pass.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from zxcvbn import zxcvbn

from server.auth.security import MAX_PASSWORD_BYTES
from server.errors import InvalidInput

MIN_LENGTH = 10
MIN_SCORE = 3  # zxcvbn: 0 too guessable … 4 very unguessable
GENERATED_ROUNDS = 4  # bcrypt cost for generated (random, ~90-bit) initial passwords: see server.auth.roster
# zxcvbn's lists are English-centred: stems Chinese users build passwords from (love numbers, 我爱你,
# 密码, big cities, this platform's own words) are added as dictionary words, so `woaini13141314` or
# `guangzhou2026` score as the guessable words-plus-digits they are.
CHINESE_STEMS = ("woaini", "aini", "5201314", "1314520", "1314", "mima", "zhongguo", "china", "beijing", "shanghai",
                 "guangzhou", "shenzhen", "wangge", "gridops", "zongzhi", "zhengfa", "admin", "qq")
_GENERATED_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


@dataclass(frozen=True)
class Rule:
    code: str
    message_en: str
    message_zh: str


RULES: tuple[Rule, ...] = (
    Rule("password_too_short", f"at least {MIN_LENGTH} characters", f"至少 {MIN_LENGTH} 个字符"),
    Rule("password_too_long", f"at most {MAX_PASSWORD_BYTES} bytes in UTF-8 (a Chinese character takes 3)",
         f"UTF-8 编码不超过 {MAX_PASSWORD_BYTES} 字节（一个汉字占 3 字节）"),
    Rule("password_contains_username", "must not contain the username, name or phone number",
         "不得包含用户名、姓名或手机号"),
    Rule("password_common", "must not be a common password (e.g. 12345678, password, woaini1314)",
         "不得使用常见密码（如 12345678、password、woaini1314）"),
    Rule("password_guessable", "must not be easy to guess: avoid keyboard rows, repeats, sequences, dates and words "
         "with a few digits added; mix several unrelated words, digits and symbols",
         "不得容易被猜中：避免键盘连续键、重复、顺序字符、日期或单词加几个数字；建议组合多个无关词语、数字和符号"),
)
_BY_CODE = {r.code: r for r in RULES}


def policy() -> dict[str, object]:
    """What the app and the dashboard show next to a password field."""
    return {"min_length": MIN_LENGTH, "max_bytes": MAX_PASSWORD_BYTES, "min_score": MIN_SCORE,
            "rules": [{"code": r.code, "message": r.message_en, "message_zh": r.message_zh} for r in RULES]}


def problem(password: str, *, username: str = "", personal: tuple[str | None, ...] = ()) -> Rule | None:
    """The first rule the password breaks, or None. `personal`: the user's name, phone … (never in it)."""
    if len(password) < MIN_LENGTH:
        return _BY_CODE["password_too_short"]
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        return _BY_CODE["password_too_long"]
    lowered = password.casefold()
    own = [v.strip() for v in (username, *personal) if v and len(v.strip()) >= 3]
    if any(v.casefold() in lowered for v in own):
        return _BY_CODE["password_contains_username"]
    result = zxcvbn(password, user_inputs=[*own, *CHINESE_STEMS], max_length=MAX_PASSWORD_BYTES)
    seq = result["sequence"]
    if len(seq) == 1 and seq[0].get("dictionary_name") == "passwords":
        return _BY_CODE["password_common"]
    if result["score"] < MIN_SCORE:
        return _BY_CODE["password_guessable"]
    return None


def check(password: str, *, username: str = "", personal: tuple[str | None, ...] = ()) -> None:
    """Raise 422 with the broken rule's stable code and its reason in both languages."""
    if (rule := problem(password, username=username, personal=personal)) is not None:
        raise InvalidInput(f"password refused: {rule.message_en}", f"密码不符合要求：{rule.message_zh}",
                           code=rule.code, detail={"rule": rule.code})


def generate() -> str:
    """An initial or reset password: 4 groups of 4 letters and digits without look-alikes (~ 90 bits),
    easy to read out over the phone; regenerated in the unlikely case the policy refuses it."""
    while True:
        groups = ["".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(4)) for _ in range(4)]
        password = "-".join(groups)
        if problem(password) is None:
            return password
