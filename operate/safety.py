"""Safe defaults: outside development, refuse to start with the built-in secrets.

The defaults in :mod:`infra.settings` make the local stack work with no configuration,
which also means anyone who has read this repository knows them: a production
deployment still on the development JWT secret accepts tokens anyone can mint, and one
on the development object-store keys lets anyone read every original. So every
long-running service (``ingest``, ``api``, ``process``, ``run``) calls
:func:`require_safe` first, and it fails with the variable to set, before a socket is
opened or a message consumed. ``PHOTOSTREAM_ENV=dev`` (the default) skips the check.
"""

from __future__ import annotations

from infra.settings import AuthSettings, S3Settings, Settings, SettingsError

#: HS256 keys shorter than the hash output are brute-forceable offline from one token.
MIN_JWT_SECRET_CHARS = 32


def production_problems(settings: Settings) -> list[str]:
    """Each unsafe setting as "what is wrong: what to set" (empty in dev or when safe)."""
    if settings.dev:
        return []
    problems = []
    if settings.auth.jwt_secret == AuthSettings.jwt_secret:
        problems.append("the JWT secret is the built-in development one: set "
                        "PHOTOSTREAM_JWT_SECRET to a random value "
                        f"(at least {MIN_JWT_SECRET_CHARS} characters)")
    elif len(settings.auth.jwt_secret) < MIN_JWT_SECRET_CHARS:
        problems.append(f"PHOTOSTREAM_JWT_SECRET is shorter than {MIN_JWT_SECRET_CHARS} "
                        "characters: set a longer random value")
    if settings.s3.access_key == S3Settings.access_key:
        problems.append("the object-store access key is the built-in development one: set "
                        "PHOTOSTREAM_S3_ACCESS_KEY")
    if settings.s3.secret_key == S3Settings.secret_key:
        problems.append("the object-store secret key is the built-in development one: set "
                        "PHOTOSTREAM_S3_SECRET_KEY")
    return problems


def require_safe(settings: Settings, service: str) -> None:
    """Raise ``SettingsError`` (printed as one message, exit 1) if ``service`` must not start."""
    problems = production_problems(settings)
    if problems:
        listed = "\n  - ".join(problems)
        raise SettingsError(
            f"refusing to start {service} with PHOTOSTREAM_ENV={settings.env}:\n  - {listed}\n"
            f"(PHOTOSTREAM_ENV=dev allows the development defaults, on a development "
            f"machine only)")
