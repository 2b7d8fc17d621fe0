"""The commands: every change an operator, a probe or (later) an alert makes.

The console, ``/api/v1``, the CLI, the probe workers and the Alertmanager receiver all
call these functions; none of them writes through the store directly. Each command is
one unit of work (:meth:`status.store.Store.begin`): the change, its audit entry and,
from the ops issue on, its event row commit together. The rules they follow are in
:mod:`status.rules`; each command here only says in which order what is written.
"""

from __future__ import annotations

from status.ops.accounts import (
    add_user,
    authenticate_token,
    create_token,
    revoke_token,
    set_disabled,
    set_password,
    set_role,
)
from status.ops.actor import Actor
from status.ops.alerts import receive as receive_alerts
from status.ops.audit import purge_audit_log
from status.ops.components import StatusChange, set_component_status, set_component_statuses
from status.ops.errors import Conflict, Invalid, NotFound, OpsError
from status.ops.incidents import (
    delete_update,
    edit_update,
    open_incident,
    publish_incident,
    resolve_incident,
    update_incident,
)
from status.ops.maintenance import (
    cancel_maintenance,
    reschedule_maintenance,
    schedule_maintenance,
    update_maintenance,
)
from status.ops.overrides import clear_override, set_override
from status.ops.series import cancel_series, schedule_series, update_series

__all__ = [
    "Actor",
    "Conflict",
    "Invalid",
    "NotFound",
    "OpsError",
    "StatusChange",
    "add_user",
    "authenticate_token",
    "cancel_maintenance",
    "cancel_series",
    "clear_override",
    "create_token",
    "delete_update",
    "edit_update",
    "open_incident",
    "publish_incident",
    "purge_audit_log",
    "receive_alerts",
    "reschedule_maintenance",
    "resolve_incident",
    "revoke_token",
    "schedule_maintenance",
    "schedule_series",
    "set_component_status",
    "set_component_statuses",
    "set_disabled",
    "set_override",
    "set_password",
    "set_role",
    "update_incident",
    "update_maintenance",
    "update_series",
]
