"""The Omni-Channel bridge's metadata in salesforce/ hangs together: what the component names exists,
the permission set grants the Apex class and the External Credential principal the Named Credential uses."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent / "salesforce" / "force-app" / "main" / "default"
NS = {"md": "http://soap.sforce.com/2006/04/metadata"}
BUNDLE = DEFAULT / "aura" / "PresenceConnectorOmni"


def xml(path: Path):
    return ET.parse(path).getroot()


def text(root, name: str) -> str | None:
    found = root.find(f"md:{name}", NS)
    return found.text if found is not None else None


def test_the_component_uses_the_apex_controller_the_static_resource_and_the_message_fields_that_exist():
    markup = (BUNDLE / "PresenceConnectorOmni.cmp").read_text()
    namespaces = " ".join(f'xmlns:{ns}="urn:{ns}"' for ns in ("aura", "lightning", "ltng"))
    ET.fromstring(f"<root {namespaces}>{markup}</root>")  # well-formed markup
    controller = re.search(r'controller="(\w+)"', markup).group(1)
    assert (DEFAULT / "classes" / f"{controller}.cls").is_file()
    assert text(xml(DEFAULT / "classes" / f"{controller}.cls-meta.xml"), "status") == "Active"
    resource = re.search(r"\$Resource\.(\w+)", markup).group(1)
    assert (DEFAULT / "staticresources" / f"{resource}.js").is_file()
    meta = xml(DEFAULT / "staticresources" / f"{resource}.resource-meta.xml")
    assert text(meta, "contentType") == "application/javascript"
    for handler in re.findall(r"\{!c\.(\w+)\}", markup):
        assert f"{handler}: function" in (BUNDLE / "PresenceConnectorOmniController.js").read_text()
    channel = xml(DEFAULT / "messageChannels" / "Presence_Connector_Omni.messageChannel-meta.xml")
    fields = {text(f, "fieldName") for f in channel.findall("md:lightningMessageFields", NS)}
    used = set(re.findall(r'getParam\("(\w+)"\)', (BUNDLE / "PresenceConnectorOmniController.js").read_text()))
    omni_events = {"statusId", "statusApiName", "workItemId", "workId"}  # params of the toolkit's own events
    assert used - omni_events <= fields and {"command_id", "ok", "error", "error_code"} <= fields


def test_the_apex_controller_calls_the_named_credential_and_has_a_test_with_a_callout_mock():
    source = (DEFAULT / "classes" / "PresenceConnectorOmniController.cls").read_text()
    assert "callout:Presence_Connector/api/v1/omni-channel/stream-tokens" in source
    assert "@AuraEnabled" in source and "UserInfo.getUserId()" in source
    test = (DEFAULT / "classes" / "PresenceConnectorOmniControllerTest.cls").read_text()
    assert test.lstrip().startswith("@IsTest") and "HttpCalloutMock" in test
    assert (DEFAULT / "classes" / "PresenceConnectorOmniControllerTest.cls-meta.xml").is_file()


def test_the_named_credential_sends_the_token_of_a_principal_the_agent_permission_set_grants():
    named = xml(DEFAULT / "namedCredentials" / "Presence_Connector.namedCredential-meta.xml")
    params = {text(p, "parameterType"): p for p in named.findall("md:namedCredentialParameters", NS)}
    assert text(params["Url"], "parameterValue").startswith("https://")
    external_name = text(params["Authentication"], "externalCredential")
    external = xml(DEFAULT / "externalCredentials" / f"{external_name}.externalCredential-meta.xml")
    assert text(external, "authenticationProtocol") == "Custom"
    eparams = external.findall("md:externalCredentialParameters", NS)
    [header] = [p for p in eparams if text(p, "parameterType") == "AuthHeader"]
    assert text(header, "parameterName") == "Authorization"
    assert text(header, "parameterValue") == "{!'Bearer ' & $Credential." + external_name + ".Token}"
    [principal] = [p for p in eparams if text(p, "parameterType") == "NamedPrincipal"]
    pset = xml(DEFAULT / "permissionsets" / "Presence_Connector_Omni_Agent.permissionset-meta.xml")
    access = pset.find("md:externalCredentialPrincipalAccesses", NS)
    assert text(access, "externalCredentialPrincipal") == f"{external_name}-{text(principal, 'parameterName')}"
    assert text(access, "enabled") == "true"
    assert text(pset.find("md:classAccesses", NS), "apexClass") == "PresenceConnectorOmniController"


def test_the_csp_trusted_site_lets_the_console_connect_to_the_same_connector_url():
    site = xml(DEFAULT / "cspTrustedSites" / "Presence_Connector.cspTrustedSite-meta.xml")
    named = xml(DEFAULT / "namedCredentials" / "Presence_Connector.namedCredential-meta.xml")
    url = next(
        text(p, "parameterValue")
        for p in named.findall("md:namedCredentialParameters", NS)
        if text(p, "parameterType") == "Url"
    )
    assert text(site, "endpointUrl") == url
    assert (text(site, "isApplicableToConnectSrc"), text(site, "isActive")) == ("true", "true")
