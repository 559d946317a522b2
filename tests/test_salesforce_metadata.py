"""The Salesforce DX project in salesforce/: every metadata file parses, and the object matches what the
flush writes (docs/architecture.md)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from connector.presence.engine import COUNTERS
from connector.salesforce.settings import FIELDS, counter_fields
from connector.settings import declared

ROOT = Path(__file__).resolve().parent.parent / "salesforce"
DEFAULT = ROOT / "force-app" / "main" / "default"
OBJECT = DEFAULT / "objects" / "Presence_Time__c"
#: the daily counters' own object (SF_COUNTER_OBJECT): kept apart from the time per state
COUNTERS_OBJECT = DEFAULT / "objects" / "Presence_Counters__c"
NS = {"md": "http://soap.sforce.com/2006/04/metadata"}
EXPECTED = {
    "User__c": "Lookup",
    "Agent__c": "Text",
    "Date__c": "Date",
    "Presence_State__c": "Text",
    "Presence_Status__c": "Number",
    "Reason_Code__c": "Text",
    "Seconds__c": "Number",
    "Key__c": "Text",
}
#: formula fields: computed in the org, read-only, never written by the flush
FORMULAS = {"Hours__c": "Number"}
#: what a counters record carries besides the counters (named as SF_FIELD_KEY, _AGENT, _USER, _DATE)
COUNTERS_EXPECTED = {"Key__c": "Text", "Agent__c": "Text", "User__c": "Lookup", "Date__c": "Date"}
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


#: source-format suffix -> the metadata type (the root element) a file of that suffix must hold
ROOT_BY_SUFFIX = {
    ".object-meta.xml": "CustomObject",
    ".field-meta.xml": "CustomField",
    ".listView-meta.xml": "ListView",
    ".permissionset-meta.xml": "PermissionSet",
    ".tab-meta.xml": "CustomTab",
    ".layout-meta.xml": "Layout",
    ".reportType-meta.xml": "ReportType",
    ".report-meta.xml": "Report",
    ".reportFolder-meta.xml": "ReportFolder",
    ".messageChannel-meta.xml": "LightningMessageChannel",
    ".cmp-meta.xml": "AuraDefinitionBundle",
    ".cls-meta.xml": "ApexClass",
    ".cspTrustedSite-meta.xml": "CspTrustedSite",
    ".externalCredential-meta.xml": "ExternalCredential",
    ".namedCredential-meta.xml": "NamedCredential",
    ".resource-meta.xml": "StaticResource",
}
METADATA_FILES = sorted(DEFAULT.rglob("*-meta.xml"))
#: standard fields a layout or list view may show besides the package's own
STANDARD_FIELDS = {"Name", "NAME", "CreatedById", "LastModifiedById", "OwnerId"}


def _suffix(path: Path) -> str:
    return next((suffix for suffix in ROOT_BY_SUFFIX if path.name.endswith(suffix)), "")


def _custom_fields(obj: str) -> set[str]:
    return {p.name.split(".")[0] for p in (DEFAULT / "objects" / obj / "fields").glob("*.field-meta.xml")}


def _objects() -> set[str]:
    return {p.name for p in (DEFAULT / "objects").iterdir() if p.is_dir()}


@pytest.mark.parametrize("path", METADATA_FILES, ids=lambda p: str(p.relative_to(DEFAULT)))
def test_every_metadata_file_parses_and_its_root_is_its_type(path):
    suffix = _suffix(path)
    assert suffix, f"{path.name}: unknown metadata suffix; add it to ROOT_BY_SUFFIX with its type"
    root = ET.parse(path).getroot()
    assert root.tag == f"{{{NS['md']}}}{ROOT_BY_SUFFIX[suffix]}"
    full_name = _text(root, "fullName")
    assert full_name in (None, path.name[: -len(suffix)])


def test_the_package_ships_the_tab_layout_list_views_report_type_and_weekly_report():
    names = {str(p.relative_to(DEFAULT)) for p in METADATA_FILES}
    assert {
        "tabs/Presence_Time__c.tab-meta.xml",
        "layouts/Presence_Time__c-Presence Time Layout.layout-meta.xml",
        "objects/Presence_Time__c/listViews/All.listView-meta.xml",
        "reportTypes/Presence_Times.reportType-meta.xml",
        "reports/Presence_Connector_Reports.reportFolder-meta.xml",
        "reports/Presence_Connector_Reports/Time_per_State_by_Agent_This_Week.report-meta.xml",
        "tabs/Presence_Counters__c.tab-meta.xml",
        "layouts/Presence_Counters__c-Presence Counters Layout.layout-meta.xml",
        "objects/Presence_Counters__c/listViews/All.listView-meta.xml",
        "reportTypes/Presence_Counters.reportType-meta.xml",
        "reports/Presence_Connector_Reports/Daily_Counters_by_Agent_This_Week.report-meta.xml",
    } <= names
    report = ET.parse(
        DEFAULT / "reports/Presence_Connector_Reports/Time_per_State_by_Agent_This_Week.report-meta.xml"
    ).getroot()
    assert _text(report, "name") == "Time per presence state by agent, this week"
    # a report on a custom report type names its fields <table>$<field> (Metadata API, Report sample);
    # grouped by the agent's Salesforce user, then the state's label
    assert [_text(g, "field") for g in report.findall("md:groupingsDown", NS)] == [
        "Presence_Time__c$User__c",
        "Presence_Time__c$Presence_State__c",
    ]
    frame = report.find("md:timeFrameFilter", NS)
    assert (_text(frame, "dateColumn"), _text(frame, "interval")) == ("Presence_Time__c$Date__c", "INTERVAL_THISWEEK")
    # the daily counters have their own object; rows an earlier version wrote here carry no seconds: left out
    [item] = report.find("md:filter", NS).findall("md:criteriaItems", NS)
    assert (_text(item, "column"), _text(item, "operator"), _text(item, "value")) == (
        "Presence_Time__c$Seconds__c",
        "notEqual",
        None,
    )


def test_tabs_layouts_and_list_views_reference_existing_objects_and_fields():
    objects = _objects()
    for tab in (DEFAULT / "tabs").glob("*.tab-meta.xml"):
        assert tab.name.split(".")[0] in objects, f"{tab.name}: no such object in the package"
    for layout in (DEFAULT / "layouts").glob("*.layout-meta.xml"):
        obj = layout.name.split("-")[0]
        assert obj in objects, f"{layout.name}: no such object in the package"
        shown = {item.text for item in ET.parse(layout).getroot().iter(f"{{{NS['md']}}}field")}
        assert shown - STANDARD_FIELDS <= _custom_fields(obj), f"{layout.name}: unknown fields"
        assert _custom_fields(obj) <= shown, f"{layout.name}: fields missing from the layout"
    for view in (DEFAULT / "objects").glob("*/listViews/*.listView-meta.xml"):
        root = ET.parse(view).getroot()
        used = {c.text for c in root.findall("md:columns", NS)} | {
            _text(f, "field") for f in root.findall("md:filters", NS)
        }
        assert used - STANDARD_FIELDS <= _custom_fields(view.parent.parent.name), f"{view.name}: unknown fields"


def test_reports_use_an_existing_report_type_folder_and_columns():
    columns_by_type = {}
    for path in (DEFAULT / "reportTypes").glob("*.reportType-meta.xml"):
        root = ET.parse(path).getroot()
        base = _text(root, "baseObject")
        assert base in _objects()
        columns = {(_text(c, "table"), _text(c, "field")) for c in root.iter(f"{{{NS['md']}}}columns")}
        for table, field in columns:
            assert table == base and field in _custom_fields(base), f"{path.name}: unknown column {table}.{field}"
        columns_by_type[path.name.split(".")[0] + "__c"] = {f"{t}${f}" for t, f in columns}
    reports = list((DEFAULT / "reports").glob("*/*.report-meta.xml"))
    assert reports
    for path in reports:
        assert (path.parent.parent / f"{path.parent.name}.reportFolder-meta.xml").is_file(), f"{path}: no folder"
        root = ET.parse(path).getroot()
        available = columns_by_type.get(_text(root, "reportType"))
        assert available, f"{path.name}: report type {_text(root, 'reportType')} is not in the package"
        used = (
            {_text(c, "field") for c in root.findall("md:columns", NS)}
            | {_text(g, "field") for g in root.findall("md:groupingsDown", NS)}
            | {_text(root.find("md:timeFrameFilter", NS), "dateColumn")}
            | {_text(c, "column") for c in root.iter(f"{{{NS['md']}}}criteriaItems")}
        )
        for aggregate in root.findall("md:aggregates", NS):
            used |= {ref.split(":")[0] for ref in _text(aggregate, "calculatedFormula").split("/") if ":" in ref}
        assert used <= available, f"{path.name}: columns not in its report type: {used - available}"


def test_the_permission_set_references_existing_fields_objects_and_tabs_and_reads_omni_presence():
    root = ET.parse(DEFAULT / "permissionsets" / "Presence_Connector_Integration.permissionset-meta.xml").getroot()
    for item in root.findall("md:fieldPermissions", NS):
        obj, _, field = _text(item, "field").partition(".")
        assert field in _custom_fields(obj), f"permission set grants unknown field {obj}.{field}"
    objects = {_text(o, "object") for o in root.findall("md:objectPermissions", NS)}
    # UserServicePresence is standard (Omni-Channel); the drift check reads every agent's current row
    assert objects == _objects() | {"UserServicePresence"}
    tabs = {_text(t, "tab") for t in root.findall("md:tabSettings", NS)}
    assert tabs == {p.name.split(".")[0] for p in (DEFAULT / "tabs").glob("*.tab-meta.xml")}
    # ServicePresenceStatus.DeveloperName is visible only with "View DeveloperName" or "View Setup and
    # Configuration" (Object Reference, ServicePresenceStatus); the narrower one is granted.
    assert {"ApiEnabled", "ViewDeveloperName"} <= {_text(p, "name") for p in root.findall("md:userPermissions", NS)}


def test_the_omni_component_uses_the_shipped_message_channel():
    markup = (DEFAULT / "aura/PresenceConnectorOmni/PresenceConnectorOmni.cmp").read_text()
    channel = markup.split('type="', 1)[1].split('"', 1)[0]
    assert channel.endswith("__c")
    assert (DEFAULT / "messageChannels" / f"{channel[:-3]}.messageChannel-meta.xml").is_file()


def test_the_project_deploys_force_app():
    project = json.loads((ROOT / "sfdx-project.json").read_text())
    assert [d["path"] for d in project["packageDirectories"]] == ["force-app"]
    assert project["packageDirectories"][0]["default"] is True
    assert (ROOT / project["packageDirectories"][0]["path"]).is_dir()


def _fields_of(obj: Path) -> dict:
    fields = {}
    for path in (obj / "fields").glob("*.field-meta.xml"):
        root = ET.parse(path).getroot()
        assert _text(root, "fullName") == path.name.split(".")[0]
        fields[_text(root, "fullName")] = root
    return fields


def test_the_object_has_the_designed_fields_and_the_flush_writes_exactly_those():
    fields = _fields_of(OBJECT)
    assert {name: _text(root, "type") for name, root in fields.items()} == EXPECTED | FORMULAS
    assert all(_text(fields[name], "formula") for name in FORMULAS)
    assert set(EXPECTED) == {default for _, default in FIELDS.values()}
    key = fields["Key__c"]
    assert (_text(key, "externalId"), _text(key, "unique"), _text(key, "caseSensitive")) == ("true", "true", "true")
    assert int(_text(key, "length")) >= 64 + 1 + 10 + 1 + 64  # agent id|YYYY-MM-DD|state id
    assert _text(fields["User__c"], "referenceTo") == "User"
    assert _text(fields["Seconds__c"], "scale") == "0"
    obj = ET.parse(OBJECT / "Presence_Time__c.object-meta.xml").getroot()
    assert _text(obj, "deploymentStatus") == "Deployed" and _text(obj, "label") == "Presence Time"


def test_the_counters_have_their_own_object_with_the_key_agent_user_date_and_every_counter():
    fields = _fields_of(COUNTERS_OBJECT)
    assert {name: _text(root, "type") for name, root in fields.items()} == COUNTERS_EXPECTED | _counter_fields()
    key = fields["Key__c"]
    assert (_text(key, "externalId"), _text(key, "unique"), _text(key, "caseSensitive")) == ("true", "true", "true")
    assert int(_text(key, "length")) >= 64 + 1 + 10  # agent id|YYYY-MM-DD
    assert _text(fields["User__c"], "referenceTo") == "User"
    # two lookups to User from different objects need different relationship names
    assert _text(fields["User__c"], "relationshipName") != _text(
        ET.parse(OBJECT / "fields" / "User__c.field-meta.xml").getroot(), "relationshipName"
    )
    obj = ET.parse(COUNTERS_OBJECT / "Presence_Counters__c.object-meta.xml").getroot()
    assert _text(obj, "deploymentStatus") == "Deployed" and _text(obj, "label") == "Presence Counters"
    assert declared("SF_COUNTER_OBJECT").default == "Presence_Counters__c"


def test_the_integration_permission_set_grants_upsert_on_every_field_and_delete_for_the_retention():
    path = DEFAULT / "permissionsets" / "Presence_Connector_Integration.permissionset-meta.xml"
    root = ET.parse(path).getroot()
    objects = {_text(o, "object"): o for o in root.findall("md:objectPermissions", NS)}
    for name in ("Presence_Time__c", "Presence_Counters__c"):
        obj = objects[name]
        assert (_text(obj, "allowCreate"), _text(obj, "allowEdit"), _text(obj, "allowRead")) == ("true",) * 3
        # SF_RETENTION_DAYS deletes the records older than the days kept (its own records: no Modify All)
        assert (_text(obj, "allowDelete"), _text(obj, "modifyAllRecords")) == ("true", "false")
    granted = {
        _text(f, "field"): (_text(f, "readable"), _text(f, "editable")) for f in root.findall("md:fieldPermissions", NS)
    }
    assert granted == (
        {f"Presence_Time__c.{name}": ("true", "true") for name in EXPECTED}
        | {f"Presence_Time__c.{name}": ("true", "false") for name in FORMULAS}
        | {f"Presence_Counters__c.{name}": ("true", "true") for name in COUNTERS_EXPECTED | _counter_fields()}
    )
    assert "ApiEnabled" in [_text(p, "name") for p in root.findall("md:userPermissions", NS)]


def test_the_readme_counter_mapping_covers_every_counter_with_a_whole_number_field():
    mapping = _readme_counter_mapping()
    assert set(mapping) == set(COUNTERS)
    for name in mapping.values():
        root = ET.parse(COUNTERS_OBJECT / "fields" / f"{name}.field-meta.xml").getroot()
        assert (_text(root, "type"), _text(root, "scale"), _text(root, "required")) == ("Number", "0", "false")
