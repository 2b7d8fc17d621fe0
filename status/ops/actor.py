"""Who makes a change: the audit log's answer to "who" and "from where"."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """``kind`` is one of user, token, system, probe, alert; ``name`` says which one."""

    kind: str
    name: str
    ip: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls("system", name)


PROBES = Actor("probe", "monitoring")
"""The probe workers, when their results change a status or an incident of their own."""
