"""Static files gzip-compressed for the browsers that accept it: the ~964 KB SLDS style sheet goes out as
gzip to ``Accept-Encoding: gzip`` and plain to a request without it, each marked ``Vary: Accept-Encoding``."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from connector.web import static_files

SLDS = "vendor/slds/styles/salesforce-lightning-design-system.min.css"
STATIC = Path(__file__).resolve().parent.parent / "connector" / "web" / "static"


def test_a_browser_that_accepts_gzip_gets_the_style_sheet_compressed_and_whole(client):
    response = client.get(f"/static/{SLDS}", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.mimetype == "text/css"
    assert "Accept-Encoding" in response.headers["Vary"]
    body = response.get_data()
    assert len(body) < (STATIC / SLDS).stat().st_size / 4, len(body)  # ~964 KB on the wire otherwise
    assert gzip.decompress(body) == (STATIC / SLDS).read_bytes()
    assert int(response.headers["Content-Length"]) == len(body)


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", "br"])
def test_a_client_that_does_not_accept_gzip_gets_the_plain_file(client, accept):
    headers = {"Accept-Encoding": accept} if accept else {}
    response = client.get(f"/static/{SLDS}", headers=headers)
    assert response.status_code == 200
    assert "Content-Encoding" not in response.headers
    assert "Accept-Encoding" in response.headers["Vary"]
    assert response.get_data() == (STATIC / SLDS).read_bytes()


def test_the_compressed_copy_answers_a_revalidation_with_304_under_its_own_etag(client):
    first = client.get(f"/static/{SLDS}", headers={"Accept-Encoding": "gzip"})
    plain = client.get(f"/static/{SLDS}")
    assert first.headers["ETag"] != plain.headers["ETag"]  # one representation each
    again = client.get(f"/static/{SLDS}", headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_the_copy_is_made_in_the_instance_folder_and_remade_when_the_file_changes(app, client, tmp_path):
    static = tmp_path / "static"
    (static / "css").mkdir(parents=True)
    sheet = static / "css" / "big.css"
    sheet.write_text("body { color: red; }\n" * 200)
    app.static_folder = str(static)
    first = client.get("/static/css/big.css", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(first.get_data()) == sheet.read_bytes()
    assert (Path(app.instance_path) / "static-gzip" / "css" / "big.css.gz").is_file()
    sheet.write_text("body { color: blue; }\n" * 200)
    later = os.stat(sheet).st_mtime_ns + 1_000_000_000
    os.utime(sheet, ns=(later, later))
    second = client.get("/static/css/big.css", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(second.get_data()) == sheet.read_bytes()  # not the old copy


def test_small_files_and_unsafe_paths_are_sent_as_before(app, client):
    small = client.get("/static/vendor/slds/icons/utility/down.svg", headers={"Accept-Encoding": "gzip"})
    assert small.status_code == 200 and "Content-Encoding" not in small.headers
    assert static_files.compressed_copy(app, "../../app.py") is None  # nothing outside the static folder
    assert not (Path(app.instance_path) / "static-gzip" / "vendor" / "slds" / "icons").exists()
