"""files.list through the official client: the q language, fields projection, paging, ordering."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError
from sandbox_testkit import DO, DS, FOLDER, folder, location_of, names, reason_of, status_of

from syft_sandbox import Sandbox


@pytest.fixture
def tree(sandbox: Sandbox, drive: Any) -> dict[str, str]:
    """SyftBox/ with two folders and three files; one file trashed; a DS folder shared to DO."""
    root = folder(drive, "SyftBox")
    inbox = folder(drive, "syft_datasite#0.1.117#do@example.org#inbox#ds@example.org", root)
    archive = folder(drive, "archive", root)
    ids = {"root": root, "inbox": inbox, "archive": archive}
    for name, parent in [("msgv2_1.tar.gz", inbox), ("msgv2_2.tar.gz", inbox), ("notes.txt", root)]:
        ids[name] = sandbox.create_file(DO, name, b"x" * len(name), parent=parent)
    sandbox.trash(DO, ids["notes.txt"])
    theirs = sandbox.create_folder(DS, "syft_datasite#0.1.117#do@example.org#outbox#ds@example.org")
    sandbox.share(DS, theirs, DO)
    ids["theirs"] = theirs
    return ids


def listed(drive: Any, q: str, **kwargs: Any) -> list[str]:
    reply = drive.files().list(q=q, fields="files(name)", orderBy="name", **kwargs).execute()
    return names(reply)


def test_name_equals_and_not_equals(drive: Any, tree: dict[str, str]) -> None:
    assert listed(drive, "name = 'msgv2_1.tar.gz'") == ["msgv2_1.tar.gz"]
    inbox = tree["inbox"]
    assert listed(drive, f"'{inbox}' in parents and name != 'msgv2_1.tar.gz'") == ["msgv2_2.tar.gz"]


def test_name_contains_is_case_insensitive_substring(drive: Any, tree: dict[str, str]) -> None:
    found = listed(drive, "name contains 'syft_datasite#' and name contains '#DO@example.org#'")
    assert found == [
        "syft_datasite#0.1.117#do@example.org#inbox#ds@example.org",
        "syft_datasite#0.1.117#do@example.org#outbox#ds@example.org",
    ]


def test_in_parents_and_root_alias(drive: Any, tree: dict[str, str]) -> None:
    assert listed(drive, f"'{tree['inbox']}' in parents") == ["msgv2_1.tar.gz", "msgv2_2.tar.gz"]
    assert listed(drive, "'root' in parents") == ["SyftBox"]


def test_owners_me_and_not(drive: Any, tree: dict[str, str]) -> None:
    mine = listed(drive, f"'me' in owners and mimeType = '{FOLDER}'")
    assert "syft_datasite#0.1.117#do@example.org#outbox#ds@example.org" not in mine
    others = listed(drive, f"not 'me' in owners and mimeType = '{FOLDER}'")
    assert others == ["syft_datasite#0.1.117#do@example.org#outbox#ds@example.org"]
    assert listed(drive, f"'{DS}' in owners") == others


def test_trashed_and_mime_type(drive: Any, tree: dict[str, str]) -> None:
    assert listed(drive, "trashed = true") == ["notes.txt"]
    assert "notes.txt" not in listed(drive, "trashed = false")
    assert listed(drive, f"mimeType != '{FOLDER}' and trashed = false") == [
        "msgv2_1.tar.gz",
        "msgv2_2.tar.gz",
    ]


def test_or_not_and_parentheses(drive: Any, tree: dict[str, str]) -> None:
    q = f"(name = 'archive' or name = 'SyftBox') and not mimeType != '{FOLDER}'"
    assert listed(drive, q) == ["archive", "SyftBox"]


def test_shared_with_me_and_writers(drive: Any, tree: dict[str, str]) -> None:
    assert listed(drive, "sharedWithMe") == [
        "syft_datasite#0.1.117#do@example.org#outbox#ds@example.org"
    ]
    assert listed(drive, f"'{DO}' in writers and 'me' in owners and name = 'archive'") == [
        "archive"
    ]


def test_escaped_quote_in_name(sandbox: Sandbox, drive: Any) -> None:
    sandbox.create_file(DO, "it's.txt", b"1")
    assert listed(drive, r"name = 'it\'s.txt'") == ["it's.txt"]


def test_modified_time_comparisons(drive: Any, tree: dict[str, str]) -> None:
    assert listed(drive, "modifiedTime > '2000-01-01T00:00:00Z' and name = 'archive'") == [
        "archive"
    ]
    assert listed(drive, "modifiedTime < '2000-01-01T00:00:00' and name = 'archive'") == []


@pytest.mark.parametrize(
    "q",
    [
        "fullText contains 'x'",
        "size > 10",
        "name = ",
        "name = 'a' and",
        "(name = 'a'",
        "'x' in nowhere",
        "name < 'a'",
        "trashed = 'yes'",
        "properties has { key='a' and value='b' }",
        "name = 'a' garbage",
    ],
)
def test_unknown_or_malformed_query_is_400_on_q(drive: Any, q: str) -> None:
    with pytest.raises(HttpError) as caught:
        drive.files().list(q=q).execute()
    assert status_of(caught.value) == 400
    assert location_of(caught.value) == "q"


def test_fields_projection_drops_unnamed_fields(sandbox: Sandbox, drive: Any) -> None:
    parent = sandbox.root_id(DO)
    for index in range(3):
        sandbox.create_file(DO, f"f{index}", b"abc", parent=parent)
    reply = drive.files().list(q="trashed = false", fields="files(id,name)", pageSize=1).execute()
    assert set(reply) == {"files"}  # no nextPageToken although there are more pages
    assert set(reply["files"][0]) == {"id", "name"}
    nested = drive.files().list(fields="nextPageToken,files(owners(emailAddress),size)", pageSize=1)
    reply = nested.execute()
    assert set(reply) == {"files", "nextPageToken"}
    assert reply["files"][0] == {"owners": [{"emailAddress": DO}], "size": "3"}


def test_default_fields_and_invalid_selection(sandbox: Sandbox, drive: Any) -> None:
    sandbox.create_file(DO, "a.txt", b"a")
    reply = drive.files().list().execute()
    assert set(reply["files"][0]) == {"kind", "id", "name", "mimeType"}
    with pytest.raises(HttpError) as caught:
        drive.files().list(fields="files(id,nmae)").execute()
    assert status_of(caught.value) == 400
    assert reason_of(caught.value) == "invalidParameter"


def test_paging_250_files(sandbox: Sandbox, drive: Any) -> None:
    parent = sandbox.create_folder(DO, "many")
    expected = {sandbox.create_file(DO, f"file_{i:03d}", b"", parent=parent) for i in range(250)}
    seen: list[str] = []
    pages = 0
    request = drive.files().list(
        q=f"'{parent}' in parents", pageSize=100, fields="nextPageToken,files(id)"
    )
    while request is not None:
        reply = request.execute()
        pages += 1
        seen.extend(f["id"] for f in reply["files"])
        request = drive.files().list_next(request, reply)
    assert pages == 3
    assert len(seen) == 250
    assert set(seen) == expected


def test_page_size_bounds_and_bad_page_token(drive: Any) -> None:
    for size in (0, 1001):
        with pytest.raises(HttpError) as caught:
            drive.files().list(pageSize=size).execute()
        assert status_of(caught.value) == 400
    with pytest.raises(HttpError) as caught:
        drive.files().list(pageToken="not-a-token").execute()
    assert location_of(caught.value) == "pageToken"


def test_order_by_name_desc_and_created(sandbox: Sandbox, drive: Any) -> None:
    parent = sandbox.create_folder(DO, "ordered")
    for name in ["b", "c", "a"]:
        sandbox.create_file(DO, name, b"", parent=parent)
    q = f"'{parent}' in parents"
    assert names(drive.files().list(q=q, orderBy="name desc").execute()) == ["c", "b", "a"]
    assert names(drive.files().list(q=q, orderBy="createdTime").execute()) == ["b", "c", "a"]
    with pytest.raises(HttpError) as caught:
        drive.files().list(q=q, orderBy="size").execute()
    assert location_of(caught.value) == "orderBy"


def test_all_drives_flags_and_spaces_accepted(sandbox: Sandbox, drive: Any) -> None:
    sandbox.create_file(DO, "x", b"")
    reply = (
        drive.files()
        .list(
            q="name = 'x'",
            spaces="drive",
            supportsAllDrives=True,
            includeItemsFromAllDrives=True,
            corpora="user",
            fields="files(name)",
        )
        .execute()
    )
    assert names(reply) == ["x"]


def test_other_users_private_files_are_invisible(
    sandbox: Sandbox, drive: Any, drive_ds: Any
) -> None:
    secret = sandbox.create_file(DS, "secret.txt", b"s")
    assert listed(drive, "name = 'secret.txt'") == []
    with pytest.raises(HttpError) as caught:
        drive.files().get(fileId=secret).execute()
    assert status_of(caught.value) == 404
    assert listed(drive_ds, "name = 'secret.txt'") == ["secret.txt"]
