"""The Salesforce DX project in salesforce/: every metadata file parses, and the object matches what the
flush writes (DESIGN.md section 4)."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from connector.engine import COUNTERS
from connector.salesforce.settings import FIELDS, counter_fields

ROOT = Path(__file__).resolve().parent.parent / "salesforce"
DEFAULT = ROOT / "force-app" / "main" / "default"
OBJECT = DEFAULT / "objects" / "Presence_Time__c"
NS = {"md": "http://soap.sforce.com/2006/04/metadata"}
EXPECTED = {"User__c": "Lookup", "Agent__c": "Text", "Date__c": "Date", "Presence_State__c": "Text",
            "Presence_Status__c": "Number", "Reason_Code__c": "Text", "Seconds__c": "Number", "Key__c": "Text"}
README = ROOT.parent / "README.md"


def _readme_counter_mapping() -> dict[str, str]:
    """The SF_COUNTER_FIELDS example an admin copies from the README."""
    line = next(ln for ln in README.read_text().splitlines() if ln.startswith("SF_COUNTER_FIELDS="))
    mapping, problem = counter_fields(line.partition("=")[2])
    assert problem == ""
    return mapping


def _counter_fields() -> dict[str, str]:
    return {name: "Number" for name in _readme_counter_mapping().values()}


def _text(element, name: str) -> str | None:
    found = element.find(f"md:{name}", NS)
    return found.text if found is not None else None


@pytest.mark.parametrize("path", sorted(ROOT.rglob("*.xml")), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_metadata_file_is_well_formed_metadata_xml(path):
    root = ET.parse(path).getroot()
    assert root.tag.startswith("{http://soap.sforce.com/2006/04/metadata}")


def test_the_project_deploys_force_app():
    project = json.loads((ROOT / "sfdx-project.json").read_text())
    assert [d["path"] for d in project["packageDirectories"]] == ["force-app"]
    assert project["packageDirectories"][0]["default"] is True
    assert (ROOT / project["packageDirectories"][0]["path"]).is_dir()


def test_the_object_has_the_designed_fields_and_the_flush_writes_exactly_those():
    fields = {}
    for path in (OBJECT / "fields").glob("*.field-meta.xml"):
        root = ET.parse(path).getroot()
        assert _text(root, "fullName") == path.name.split(".")[0]
        fields[_text(root, "fullName")] = root
    assert {name: _text(root, "type") for name, root in fields.items()} == EXPECTED | _counter_fields()
    assert set(EXPECTED) == {default for _, default in FIELDS.values()}
    key = fields["Key__c"]
    assert (_text(key, "externalId"), _text(key, "unique"), _text(key, "caseSensitive")) == ("true", "true", "true")
    assert int(_text(key, "length")) >= 64 + 1 + 10 + 1 + 64  # agent id|YYYY-MM-DD|state id
    assert _text(fields["User__c"], "referenceTo") == "User"
    assert _text(fields["Seconds__c"], "scale") == "0"
    obj = ET.parse(OBJECT / "Presence_Time__c.object-meta.xml").getroot()
    assert _text(obj, "deploymentStatus") == "Deployed" and _text(obj, "label") == "Presence Time"


def test_the_integration_permission_set_grants_upsert_on_every_field():
    path = DEFAULT / "permissionsets" / "Presence_Connector_Integration.permissionset-meta.xml"
    root = ET.parse(path).getroot()
    obj = root.find("md:objectPermissions", NS)
    assert _text(obj, "object") == "Presence_Time__c"
    assert (_text(obj, "allowCreate"), _text(obj, "allowEdit"), _text(obj, "allowRead")) == ("true",) * 3
    assert _text(obj, "allowDelete") == "false"
    granted = {_text(f, "field"): (_text(f, "readable"), _text(f, "editable"))
               for f in root.findall("md:fieldPermissions", NS)}
    assert granted == {f"Presence_Time__c.{name}": ("true", "true") for name in EXPECTED | _counter_fields()}
    assert "ApiEnabled" in [_text(p, "name") for p in root.findall("md:userPermissions", NS)]


def test_the_readme_counter_mapping_covers_every_counter_with_a_whole_number_field():
    mapping = _readme_counter_mapping()
    assert set(mapping) == set(COUNTERS)
    for name in mapping.values():
        root = ET.parse(OBJECT / "fields" / f"{name}.field-meta.xml").getroot()
        assert (_text(root, "type"), _text(root, "scale"), _text(root, "required")) == ("Number", "0", "false")
