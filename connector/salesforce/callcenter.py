"""The Open CTI call-centre definition file admins import in Setup (Call Centers -> Import).

All items whose name starts with ``req`` are required; reqInternalName (sortOrder 0) and
reqDisplayName (sortOrder 1) keep their sort order. reqInternalName: at most 40 letters and
digits, starting with a letter. Lightning Experience needs an https adapter URL and
reqSalesforceCompatibilityMode ``Lightning``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from urllib.parse import urlparse

from connector.errors import InvalidInput

INTERNAL_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,39}$")
HEIGHT_RANGE = (240, 2560)  # what setSoftphonePanelHeight accepts in Lightning
WIDTH_RANGE = (200, 1920)


def callcenter_xml(
    adapter_url: str,
    internal_name: str = "PresenceConnector",
    display_name: str = "Presence Connector",
    height: int = 600,
    width: int = 400,
) -> str:
    """The definition file as text; bad values raise InvalidInput naming the option."""
    parsed = urlparse(adapter_url or "")
    if parsed.scheme != "https" or not parsed.hostname:
        raise InvalidInput(
            "the softphone URL must be a full https:// URL (Lightning Experience needs https)", field="--url"
        )
    if not INTERNAL_NAME_RE.match(internal_name):
        raise InvalidInput(
            "the internal name must be 1-40 letters and digits, starting with a letter", field="--internal-name"
        )
    if not display_name.strip() or len(display_name) > 1000:
        raise InvalidInput("the display name must be 1-1000 characters", field="--display-name")
    for size, (low, high), option in ((height, HEIGHT_RANGE, "--height"), (width, WIDTH_RANGE, "--width")):
        if not low <= size <= high:
            raise InvalidInput(f"{option} must be from {low} to {high} pixels", field=option)

    root = ET.Element("callCenter")
    general = ET.SubElement(root, "section", sortOrder="0", name="reqGeneralInfo", label="General Information")
    items = [
        ("reqInternalName", "Internal Name", internal_name),
        ("reqDisplayName", "Display Name", display_name.strip()),
        ("reqAdapterUrl", "CTI Adapter URL", adapter_url),
        ("reqUseApi", "Use CTI API", "true"),
        ("reqSoftphoneHeight", "Softphone Height", str(height)),
        ("reqSoftphoneWidth", "Softphone Width", str(width)),
        ("reqSalesforceCompatibilityMode", "Salesforce Compatibility Mode", "Lightning"),
    ]
    for order, (name, label, value) in enumerate(items):
        ET.SubElement(general, "item", sortOrder=str(order), name=name, label=label).text = value
    ET.indent(root, space="    ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
