"""The queue's Lua scripts: loaded once per client, each run with the keys and limits they all share.

Two writes that must agree (a job's status and its stream entry, an outcome and its XACK) happen inside
one script, so a crash between them cannot lose or double-finish a job.
"""

from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from orchestrator.core import keys
from orchestrator.jobs.model import PRIORITIES
from orchestrator.jobs.transitions import lua_job_table
from orchestrator.settings import Settings

_LUA_DIR = Path(__file__).with_name("lua")
_NAMES = ("enqueue", "claim", "finish", "renew", "progress", "cancel", "requeue", "forget")


def _header() -> str:
    priorities = ", ".join(f"'{p}'" for p in PRIORITIES)
    return "\n".join(
        [
            keys.lua_builders(),
            lua_job_table(),
            f"local PRIORITIES = {{{priorities}}}",
            f"local GROUP = '{keys.GROUP}'",
            (_LUA_DIR / "common.lua").read_text(),
        ]
    )


class Scripts:
    def __init__(self, redis: Redis, settings: Settings):
        header = _header()
        self._scripts = {
            name: redis.register_script(header + (_LUA_DIR / f"{name}.lua").read_text()) for name in _NAMES
        }
        self._keys = [keys.stream(p) for p in PRIORITIES] + [
            keys.DELAYED,
            keys.DEAD,
            keys.WAKE,
            keys.JOBS,
        ]
        self._limits = [settings.events_maxlen, settings.events_ttl_s, settings.dead_letters_maxlen]

    async def run(self, name: str, *args: Any, extra_keys: list[str] | None = None) -> Any:
        return await self._scripts[name](keys=self._keys + (extra_keys or []), args=self._limits + list(args))
