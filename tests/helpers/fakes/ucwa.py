"""A fake Skype for Business server (UCWA) at the HTTP layer (``responses``): autodiscover, the challenge
and the web ticket, the user resource, and the application an agent's first delivery creates.

``serve_sign_in`` registers that chain on ``responses`` (the default mock) or on a given ``RequestsMock``; the
test adds the presence answer it wants (``presence_status``) or its own callbacks.
"""

from __future__ import annotations

import json

import responses

DISCOVER = "https://lyncdiscover.example.com/"
USER = "https://lync.example.com/Autodiscover/AutodiscoverService.svc/root/oauth/user?originalDomain=example.com"
TICKET = "https://lync.example.com/WebTicket/oauthtoken"
APPS = "https://lyncpool.example.com/ucwa/oauth/v1/applications"
APP = APPS + "/101"
PRESENCE = APP + "/me/presence"
#: the WWW-Authenticate header of the anonymous request to the user resource
CHALLENGE = f'MsRtcOAuth href="{TICKET}",grant_type="password"'


def serve_sign_in(
    rsps=None,
    *,
    challenge: str = CHALLENGE,
    token: str = "cwt=AAEB",
    me_extra: dict | None = None,
    app_links: dict | None = None,
    presence_status: int | None = None,
) -> None:
    """The user resource challenges a request without a ticket (``challenge``) and names the applications
    resource to one with it; the web ticket service answers with ``token``; a new application offers
    makeMeAvailable and then the presence link (and ``me_extra``, ``app_links``). With ``presence_status``
    the presence POST answers that status."""
    r = rsps or responses

    def user(request):
        if "Authorization" not in request.headers:
            return 401, {"WWW-Authenticate": challenge}, ""
        return 200, {}, json.dumps({"_links": {"applications": {"href": APPS}}})

    r.get(DISCOVER, json={"_links": {"self": {"href": DISCOVER}, "user": {"href": USER}}})
    r.add_callback(responses.GET, USER, callback=user)
    r.post(TICKET, json={"access_token": token, "expires_in": 28800, "token_type": "Bearer"})
    r.post(
        APPS,
        status=201,
        json={
            "_links": {"self": {"href": "/ucwa/oauth/v1/applications/101"}},
            "_embedded": {
                "me": {"_links": {"makeMeAvailable": {"href": "/ucwa/oauth/v1/applications/101/me/makeMeAvailable"}}}
            },
        },
    )
    r.post(APP + "/me/makeMeAvailable", status=204)
    r.get(
        APP,
        json={
            "_links": app_links or {},
            "_embedded": {
                "me": {
                    "_links": {"presence": {"href": "/ucwa/oauth/v1/applications/101/me/presence"}, **(me_extra or {})}
                }
            },
        },
    )
    if presence_status is not None:
        r.post(PRESENCE, status=presence_status)
