"""Server-rendered HTML for the CLI sign-in/approve flow (no JavaScript; every value escaped)."""

from __future__ import annotations

from html import escape

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f5f6f8;color:#1d2330;margin:0}
main{max-width:26rem;margin:4rem auto;background:#fff;border-radius:10px;padding:2rem;
box-shadow:0 2px 10px rgba(0,0,0,.08)}
h1{font-size:1.3rem;margin-top:0}.code{font:600 1.6rem monospace;letter-spacing:.15rem;
text-align:center;background:#eef1f6;padding:.6rem;border-radius:6px}
label{display:block;margin:.8rem 0 .2rem}input[type=email],input[type=password]{width:100%;
padding:.5rem;box-sizing:border-box}button{padding:.55rem 1.2rem;margin:.8rem .4rem 0 0;
border-radius:6px;border:1px solid #888;cursor:pointer}.primary{background:#2256d6;color:#fff;
border-color:#2256d6}.error{color:#b00020}.muted{color:#667;font-size:.9rem}
"""


def page(title: str, body_html: str) -> str:
    """Wrap pre-escaped `body_html` in the page shell."""
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)} · kvmesh</title><style>{_STYLE}</style></head>"
        f"<body><main>{body_html}</main></body></html>"
    )


def _hidden(name: str, value: str) -> str:
    return f'<input type=hidden name="{escape(name)}" value="{escape(value)}">'


def signin_page(user_code: str, csrf: str, error: str = "", email: str = "") -> str:
    error_html = f"<p class=error role=alert id=error>{escape(error)}</p>" if error else ""
    return page(
        "Sign in",
        "<h1>Sign in to approve a CLI login</h1>"
        f"<p>Code</p><p class=code id=user-code>{escape(user_code)}</p>{error_html}"
        '<form method=post action="/cli-login/signin">'
        f"{_hidden('csrf_token', csrf)}{_hidden('code', user_code)}"
        "<label for=email>Email</label>"
        f'<input id=email name=email type=email autocomplete=username required value="{escape(email)}">'
        "<label for=password>Password</label>"
        "<input id=password name=password type=password autocomplete=current-password required>"
        "<button class=primary type=submit id=signin>Sign in</button></form>",
    )


def approve_page(user_code: str, csrf: str, email: str) -> str:
    return page(
        "Approve CLI login",
        "<h1>Approve CLI login?</h1>"
        f"<p>Signed in as <strong id=signed-in-as>{escape(email)}</strong>.</p>"
        "<p>A <code>tm auth login</code> session is asking for access to your account. "
        "Approve only if you started it and the code matches.</p>"
        f"<p class=code id=user-code>{escape(user_code)}</p>"
        '<form method=post action="/cli-login/decision">'
        f"{_hidden('csrf_token', csrf)}{_hidden('code', user_code)}"
        "<button class=primary type=submit name=decision value=approve id=approve>Approve</button>"
        "<button type=submit name=decision value=deny id=deny>Deny</button></form>"
        '<form method=post action="/cli-login/signout">'
        f"{_hidden('csrf_token', csrf)}{_hidden('code', user_code)}"
        "<p class=muted>Not you? <button type=submit id=signout>Sign out</button></p></form>",
    )


def result_page(title: str, message: str, *, ok: bool) -> str:
    css = "" if ok else " class=error"
    return page(
        title, f"<h1 id=result-title>{escape(title)}</h1><p{css} id=result-message>{escape(message)}</p>"
    )
