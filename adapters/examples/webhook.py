"""A complete adapter in a few lines: POST every presence change as JSON to a URL."""
import requests

from adapters import Adapter, AdapterError, Setting


class WebhookAdapter(Adapter):
    name = "webhook"
    prefix = "WEBHOOK_"
    settings = {
        "url": Setting(str, required=True, help="where to POST, e.g. https://example.com/presence"),
        "token": Setting(str, secret=True, help="sent as 'Authorization: Bearer <token>'"),
        "timeout": Setting(float, default=5.0, range=(0.5, 60)),
    }

    def push(self, agent, change):
        if change.kind != "presence":
            return  # nothing to do for dial/login/logout: the row counts as done
        body = {"agent": agent.id, "state": (change.state or {}).get("id"), "at": change.at.isoformat()}
        headers = {"Authorization": f"Bearer {self.config['token']}"} if self.config["token"] else {}
        try:
            reply = requests.post(self.config["url"], json=body, headers=headers, timeout=self.config["timeout"])
        except requests.RequestException as exc:
            raise AdapterError(f"webhook not reachable: {type(exc).__name__}") from None
        if reply.status_code >= 400:
            # 5xx and 429 may pass (not before the remote's Retry-After); any other 4xx will fail the same way again
            retryable = reply.status_code >= 500 or reply.status_code == 429
            wait = reply.headers.get("Retry-After", "")
            raise AdapterError(f"webhook answered HTTP {reply.status_code}", retryable=retryable,
                               retry_after=float(wait) if retryable and wait.isdigit() else None)
