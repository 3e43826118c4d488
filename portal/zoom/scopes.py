"""The Zoom permissions (OAuth scopes) the portal needs, and which ones a connection lacks.

External contract (ZOOM_API §1.8): the token response's ``scope`` lists what the app
was granted (stored as ``ZoomConnection.scopes``, space-separated). Classic scopes
are coarse (``meeting:write`` creates, updates and deletes); under granular scopes
create, update and delete are three scopes, and a token lacking one gets HTTP 400
code 4711 "Invalid access token, does not contain scopes:[…]" on that call only.
Each scope also has an ``:admin`` variant, which is accepted too. Scopes come from
the app's configuration in the Zoom App Marketplace, so only whoever manages that app
can add one; the tutor then authorizes again to get a token that carries it.
"""

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Need:
    """One thing the portal does in Zoom and the scopes that allow it."""

    key: str
    action: str  # plain words after "isn't allowed to"
    classic: str
    granular: str
    essential: bool  # without it the Daily Session can't be created, checked or started
    also: tuple = ()  # other names Zoom accepts for it

    def allowed_by(self, granted):
        """True if one of the granted scope names allows this."""
        names = {self.classic, self.granular, *self.also}
        names |= {name + ":admin" for name in (self.classic, self.granular)}
        return bool(names & granted)


NEEDS = (
    Need(
        "profile",
        "read your Zoom profile",
        "user:read",
        "user:read:user",
        True,
        ("user_info:read",),
    ),
    Need("create", "create meetings", "meeting:write", "meeting:write:meeting", True),
    Need("read", "read meetings", "meeting:read", "meeting:read:meeting", True),
    Need("list", "list meetings", "meeting:read", "meeting:read:list_meetings", True),
    Need("update", "update meetings", "meeting:write", "meeting:update:meeting", False),
    Need("delete", "delete meetings", "meeting:write", "meeting:delete:meeting", False),
)
BY_KEY = {need.key: need for need in NEEDS}
WHO_ADDS = (
    "Your Zoom account administrator (or whoever manages the portal's Zoom app in the Zoom "
    "App Marketplace) must add {this}"
)
SCOPE_NAME = re.compile(r"^[a-z_]+(:[a-z_]+)+$")


@dataclass(frozen=True)
class Missing:
    """A needed operation the connection's scopes don't allow, and the scope to add."""

    need: Need
    scope: str


def granted(scopes):
    """The set of scope names in a stored scope string (or list); empty for None."""
    if scopes is None:
        return set()
    if isinstance(scopes, str):
        scopes = scopes.replace(",", " ").split()
    return {str(name).strip() for name in scopes if str(name).strip()}


def is_granular(names):
    """True if the names are granular scopes (three parts, ``:admin`` not counted)."""
    return any(name.removesuffix(":admin").count(":") >= 2 for name in names)


def missing(scopes):
    """The needed operations the stored scopes don't allow, in NEEDS order.

    Each comes with the scope name to add: the granular one, unless the token holds
    only classic scopes (then the classic one). None when no scopes were recorded:
    nothing can be said then.
    """
    names = granted(scopes)
    if not names:
        return None
    granular = is_granular(names)
    return [
        Missing(need, need.granular if granular else need.classic)
        for need in NEEDS
        if not need.allowed_by(names)
    ]


def named(scope_names):
    """What a 4711 said was missing: Missing for each need the named scopes would allow.

    A name the portal does not know is kept as it is (its need is None)."""
    found, seen = [], set()
    for name in scope_names:
        base = name.removesuffix(":admin")
        needs = [n for n in NEEDS if base in (n.classic, n.granular, *n.also)]
        if not needs:
            if base not in seen:
                seen.add(base)
                found.append(Missing(None, base))
            continue
        for need in needs:
            if need.key not in seen:
                seen.add(need.key)
                found.append(Missing(need, base))
    return found


def parse_4711(message):
    """The scope names inside the brackets of a 4711 message (``scopes:[a, b]``)."""
    found = re.search(r"\[([^\]]*)\]", message or "")
    if not found:
        return []
    names = [part.strip().strip("'\"") for part in found.group(1).split(",")]
    return [name for name in names if SCOPE_NAME.match(name)]


def essential(items):
    """True if any of the missing operations is one the Daily Session can't do without."""
    return any(item.need is None or item.need.essential for item in items)


def _or(parts):
    parts = list(parts)
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " or " + parts[-1]


def phrase(items):
    """'update meetings or delete meetings (meeting:write)', one bracket per scope."""
    by_scope = {}
    for item in items:
        by_scope.setdefault(item.scope, []).append(
            item.need.action if item.need else f"use {item.scope}"
        )
    return _or(f"{_or(actions)} ({scope})" for scope, actions in by_scope.items())


def scope_list(items):
    """The distinct scope names to add, in order: 'meeting:update:meeting, …'."""
    return ", ".join(dict.fromkeys(item.scope for item in items))


def consequence(items):
    """What the portal can and can't do until the scopes are added (plain words)."""
    actions = _or(dict.fromkeys(i.need.action if i.need else f"use {i.scope}" for i in items))
    until = "Until it is added" if len({i.scope for i in items}) <= 1 else "Until they are added"
    if essential(items):
        return (
            f"{until}, the portal can't {actions} in Zoom, so the Daily Session may not be "
            "prepared, checked or started, and students may not reach it."
        )
    return (
        f"{until}, the portal still creates the Daily Session and sends students to it, "
        f"but it can't {actions} in Zoom."
    )


def who_adds(items):
    """Who adds the permission(s), in plain words."""
    this = "this permission" if len({i.scope for i in items}) <= 1 else "these permissions"
    return WHO_ADDS.format(this=this)
