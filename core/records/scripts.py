"""The Lua scripts of the records, one file each in lua/; a script is sent with the files it includes before it."""

from __future__ import annotations

from importlib.resources import files

import redis
from redis.commands.core import Script

# what each script calls that another file defines: layout.lua (key names), claimable.lua, ended.lua, cancel_unit.lua
_INCLUDES = {
    "claim": ("layout", "claimable"),
    "progress": ("layout",),
    "finish": ("layout", "ended"),
    "cancel": ("layout", "ended", "cancel_unit"),
    "supersede": ("layout", "ended", "cancel_unit"),
    "arm_batch": ("layout", "ended"),
    "forget": ("layout",),
    "orphans": ("layout",),
}


def source(name: str) -> str:
    lua = files(__package__) / "lua"
    return "\n".join((lua / f"{part}.lua").read_text() for part in (*_INCLUDES.get(name, ()), name))


def register(client: redis.Redis, name: str) -> Script:
    """The script `name` on `client`: run by its SHA1, loaded into Redis again if Redis forgot it."""
    return client.register_script(source(name))
