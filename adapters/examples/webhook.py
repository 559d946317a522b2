"""A complete adapter in a few lines: POST every presence change as JSON to a URL, and take changes back."""

import requests

from adapters import Adapter, AdapterError, InboundRejected, Setting


class WebhookAdapter(Adapter):
    name = "webhook"
    prefix = "WEBHOOK_"
    settings = {
        "url": Setting(str, required=True, help="where to POST, e.g. https://example.com/presence"),
        "token": Setting(str, secret=True, help="sent as 'Authorization: Bearer <token>'"),
        "timeout": Setting(float, default=5.0, range=(0.5, 60)),
    }
    # the remote side may report a change back: POST /api/v1/adapters/webhook/agents/<id>/events {"state": ...}
    inbound_fields = ("state",)
    inbound_roles = ("integration",)

    def push(self, agent, change):
        if change.kind != "presence":
            return  # nothing to do for dial/login/logout: the row counts as done
        body = {"agent": agent.id, "state": change.state.id if change.state else None, "at": change.at.isoformat()}
        headers = {"Authorization": f"Bearer {self.config['token']}"} if self.config["token"] else {}
        if change.key:
            headers["Idempotency-Key"] = change.key  # the same on every retry of this change
        try:
            # self.http: the adapter's session, so the connection stays open for the next change
            reply = self.http.post(self.config["url"], json=body, headers=headers, timeout=self.config["timeout"])
        except requests.RequestException as exc:
            raise AdapterError(f"webhook not reachable: {type(exc).__name__}") from None
        if reply.status_code >= 400:
            # 5xx and 429 may pass (not before the remote's Retry-After); any other 4xx will fail the same way again
            retryable = reply.status_code >= 500 or reply.status_code == 429
            wait = reply.headers.get("Retry-After", "")
            raise AdapterError(
                f"webhook answered HTTP {reply.status_code}",
                retryable=retryable,
                retry_after=float(wait) if retryable and wait.isdigit() else None,
            )

    def receive(self, agent_id, event):
        if not isinstance(event.get("state"), str) or not event["state"]:
            raise InboundRejected("state must be a presence state id or label", field="state")
        # through the host, like every change: recorded with this adapter as its source, never echoed back
        return self.host.set_state(agent_id, event["state"], source=self.name)
