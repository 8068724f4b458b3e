"""The per-user coalescing changes feed, polled the way a monitor polls it."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError
from sandbox_testkit import DO, DS, location_of, status_of

from syft_sandbox import Sandbox

FIELDS = (
    "nextPageToken,newStartPageToken,"
    "changes(fileId,removed,time,file(id,name,mimeType,parents,trashed,modifiedTime,size,"
    "owners(emailAddress)))"
)


def poll(drive: Any, token: str, page_size: int = 1000) -> tuple[list[dict[str, Any]], str, int]:
    """All pages from `token`: (changes, new start token, number of requests)."""
    changes: list[dict[str, Any]] = []
    requests = 0
    while True:
        reply = (
            drive.changes()
            .list(
                pageToken=token,
                pageSize=page_size,
                includeRemoved=True,
                spaces="drive",
                supportsAllDrives=True,
                includeItemsFromAllDrives=True,
                fields=FIELDS,
            )
            .execute()
        )
        requests += 1
        changes.extend(reply["changes"])
        if "newStartPageToken" in reply:
            assert "nextPageToken" not in reply
            return changes, reply["newStartPageToken"], requests
        token = reply["nextPageToken"]


def start(drive: Any) -> str:
    return str(drive.changes().getStartPageToken().execute()["startPageToken"])


def test_idle_poll_is_exactly_one_request(sandbox: Sandbox, drive: Any) -> None:
    token = start(drive)
    mark = sandbox.mark()
    changes, new_token, requests = poll(drive, token)
    assert (changes, requests, new_token) == ([], 1, token)
    assert [r.operation for r in sandbox.requests(mark)] == ["changes.list"]


def test_changes_are_coalesced_to_current_state(sandbox: Sandbox, drive: Any) -> None:
    token = start(drive)
    file_id = sandbox.create_file(DO, "a", b"1")
    sandbox.write_content(DO, file_id, b"22")
    sandbox.rename(DO, file_id, "b")
    changes, _, _ = poll(drive, token)
    assert len(changes) == 1
    assert changes[0]["fileId"] == file_id
    assert changes[0]["file"]["name"] == "b"
    assert changes[0]["file"]["size"] == "2"


def test_moved_file_reappears_with_current_parents(sandbox: Sandbox, drive: Any) -> None:
    inbox = sandbox.create_folder(DO, "inbox")
    archive = sandbox.create_folder(DO, "archive")
    message = sandbox.create_file(DO, "msgv2_1.tar.gz", b"m", parent=inbox)
    _, token, _ = poll(drive, start(drive))
    sandbox.move(DO, message, archive)
    changes, _, _ = poll(drive, token)
    assert [(c["fileId"], c["file"]["parents"]) for c in changes] == [(message, [archive])]


def test_a_message_added_and_archived_between_polls_is_still_seen(
    sandbox: Sandbox, drive: Any
) -> None:
    inbox = sandbox.create_folder(DS, "syft_datasite#0.1.117#do@example.org#inbox#ds@example.org")
    sandbox.share(DS, inbox, DO)
    archive = sandbox.create_folder(DO, "archive")
    token = start(drive)
    message = sandbox.create_file(DS, "msgv2_1.tar.gz", b"m", parent=inbox)
    sandbox.move(DO, message, archive)  # the DO's own sync archives it before we poll
    changes, _, _ = poll(drive, token)
    assert [c["file"]["name"] for c in changes] == ["msgv2_1.tar.gz"]
    assert changes[0]["file"]["owners"] == [{"emailAddress": DS}]


def test_deletion_gives_a_removed_entry_with_only_the_id(sandbox: Sandbox, drive: Any) -> None:
    file_id = sandbox.create_file(DO, "gone", b"")
    _, token, _ = poll(drive, start(drive))
    drive.files().delete(fileId=file_id).execute()
    changes, _, _ = poll(drive, token)
    assert len(changes) == 1
    assert changes[0]["fileId"] == file_id
    assert changes[0]["removed"] is True
    assert "file" not in changes[0]


def test_losing_access_is_a_removal_for_that_user_only(
    sandbox: Sandbox, drive: Any, drive_ds: Any
) -> None:
    shared = sandbox.create_folder(DO, "shared")
    child = sandbox.create_file(DO, "child", b"c", parent=shared)
    sandbox.share(DO, shared, DS)
    ds_changes, ds_token, _ = poll(drive_ds, "1")
    assert {c["fileId"] for c in ds_changes} == {shared, child}  # the subtree became visible
    _, do_token, _ = poll(drive, start(drive))
    sandbox.unshare(DO, shared, DS)
    ds_changes, _, _ = poll(drive_ds, ds_token)
    assert sorted((c["fileId"], c["removed"]) for c in ds_changes) == sorted(
        [(shared, True), (child, True)]
    )
    do_changes, _, _ = poll(drive, do_token)
    assert all(not c["removed"] for c in do_changes)


def test_other_users_private_changes_never_appear(sandbox: Sandbox, drive: Any) -> None:
    token = start(drive)
    private = sandbox.create_file(DS, "private", b"")
    sandbox.delete(DS, private)
    assert poll(drive, token)[0] == []


def test_paging_reports_next_page_token_until_done(sandbox: Sandbox, drive: Any) -> None:
    token = start(drive)
    created = {sandbox.create_file(DO, f"f{i}", b"") for i in range(25)}
    changes, new_token, requests = poll(drive, token, page_size=10)
    assert requests == 3
    assert {c["fileId"] for c in changes} == created
    assert poll(drive, new_token)[0] == []


def test_unnamed_token_fields_are_dropped(sandbox: Sandbox, drive: Any) -> None:
    token = start(drive)
    reply = drive.changes().list(pageToken=token, fields="changes(fileId)").execute()
    assert reply == {"changes": []}


@pytest.mark.parametrize("token", ["abc", "0", "999999"])
def test_invalid_page_token_is_400(drive: Any, token: str) -> None:
    with pytest.raises(HttpError) as caught:
        drive.changes().list(pageToken=token).execute()
    assert status_of(caught.value) == 400
    assert location_of(caught.value) == "pageToken"
