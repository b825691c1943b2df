"""Dependency aliases for objects built in the lifespan (the settings; the authority's is service.authority.deps).

The getters are `async def` although they never await: FastAPI runs a plain `def` dependency in its thread pool,
a thread hand-off (and GIL hand-back) per dependency per request, about a quarter of a verification's CPU.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.core.settings import Settings


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
