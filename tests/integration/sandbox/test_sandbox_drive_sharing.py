"""Moves, permissions and who sees what, through the official client."""

from __future__ import annotations

from typing import Any

import pytest
from googleapiclient.errors import HttpError
from sandbox_testkit import DO, DS, folder, names, reason_of, status_of, upload

from syft_sandbox import Sandbox


def test_move_with_add_and_remove_parents(sandbox: Sandbox, drive: Any) -> None:
    inbox = folder(drive, "inbox")
    archive = folder(drive, "archive")
    file_id = upload(drive, "msgv2_1.tar.gz", inbox, b"m")
    parents = drive.files().get(fileId=file_id, fields="parents").execute()["parents"]
    moved = (
        drive.files()
        .update(
            fileId=file_id,
            addParents=archive,
            removeParents=",".join(parents),
            supportsAllDrives=True,
            fields="id,parents",
        )
        .execute()
    )
    assert moved == {"id": file_id, "parents": [archive]}
    assert names(drive.files().list(q=f"'{inbox}' in parents").execute()) == []
    assert names(drive.files().list(q=f"'{archive}' in parents").execute()) == ["msgv2_1.tar.gz"]


def test_second_parent_and_writing_parents_are_refused(sandbox: Sandbox, drive: Any) -> None:
    first = folder(drive, "one")
    second = folder(drive, "two")
    file_id = upload(drive, "f", first, b"1")
    with pytest.raises(HttpError) as caught:
        drive.files().update(fileId=file_id, addParents=second).execute()
    assert (status_of(caught.value), reason_of(caught.value)) == (403, "cannotAddParent")
    with pytest.raises(HttpError) as caught:
        drive.files().update(fileId=file_id, body={"parents": [second]}).execute()
    assert reason_of(caught.value) == "fieldNotWritable"


def test_folder_cannot_move_into_its_own_subtree(drive: Any) -> None:
    outer = folder(drive, "outer")
    inner = folder(drive, "inner", outer)
    with pytest.raises(HttpError) as caught:
        drive.files().update(fileId=outer, addParents=inner).execute()
    assert status_of(caught.value) == 400


def test_rename_trash_and_untrash(drive: Any) -> None:
    file_id = folder(drive, "old")
    reply = drive.files().update(fileId=file_id, body={"name": "new"}, fields="name").execute()
    assert reply == {"name": "new"}
    drive.files().update(fileId=file_id, body={"trashed": True}).execute()
    assert names(drive.files().list(q="trashed = false and name = 'new'").execute()) == []
    drive.files().update(fileId=file_id, body={"trashed": False}).execute()
    assert names(drive.files().list(q="trashed = false and name = 'new'").execute()) == ["new"]


def test_share_makes_folder_and_children_visible(
    sandbox: Sandbox, drive: Any, drive_ds: Any
) -> None:
    channel = folder(drive_ds, "syft_datasite#0.1.117#do@example.org#inbox#ds@example.org")
    message = upload(drive_ds, "msgv2_1.tar.gz", channel, b"payload")
    with pytest.raises(HttpError) as caught:
        drive.files().get(fileId=channel).execute()
    assert status_of(caught.value) == 404
    created = (
        drive_ds.permissions()
        .create(
            fileId=channel,
            body={"type": "user", "role": "writer", "emailAddress": DO},
            sendNotificationEmail=True,
            fields="id",
        )
        .execute()
    )
    assert set(created) == {"id"}
    assert drive.files().get(fileId=channel, fields="name").execute()["name"].startswith("syft")
    assert drive.files().get_media(fileId=message).execute() == b"payload"
    # The writer can add files; the folder owner (DS) sees them although DO owns them.
    reply_id = upload(drive, "syfteventsmessagev3_1.tar.gz", channel, b"ev")
    owners = drive_ds.files().get(fileId=reply_id, fields="owners(emailAddress)").execute()
    assert owners == {"owners": [{"emailAddress": DO}]}
    listed = drive_ds.permissions().list(fileId=channel, fields="permissions(emailAddress,role)")
    assert listed.execute() == {
        "permissions": [
            {"emailAddress": DS, "role": "owner"},
            {"emailAddress": DO, "role": "writer"},
        ]
    }


def test_permission_errors(sandbox: Sandbox, drive: Any, drive_ds: Any) -> None:
    mine = folder(drive, "mine")
    sandbox.share(DO, mine, DS, role="reader")
    with pytest.raises(HttpError) as caught:  # a reader cannot share onwards
        drive_ds.permissions().create(
            fileId=mine, body={"type": "user", "role": "reader", "emailAddress": "x@example.org"}
        ).execute()
    assert status_of(caught.value) == 403
    with pytest.raises(HttpError) as caught:
        drive.permissions().create(
            fileId=mine, body={"type": "user", "role": "writer", "emailAddress": "not an email"}
        ).execute()
    assert status_of(caught.value) == 400
    with pytest.raises(HttpError) as caught:  # only the owner deletes
        drive_ds.files().delete(fileId=mine).execute()
    assert status_of(caught.value) == 403


def test_unshare_hides_again(sandbox: Sandbox, drive: Any, drive_ds: Any) -> None:
    mine = folder(drive, "mine")
    permission = (
        drive.permissions()
        .create(
            fileId=mine, body={"type": "user", "role": "writer", "emailAddress": DS}, fields="id"
        )
        .execute()["id"]
    )
    assert drive_ds.files().get(fileId=mine, fields="id").execute() == {"id": mine}
    drive.permissions().delete(fileId=mine, permissionId=permission).execute()
    with pytest.raises(HttpError) as caught:
        drive_ds.files().get(fileId=mine).execute()
    assert status_of(caught.value) == 404


def test_delete_removes_owned_subtree(sandbox: Sandbox, drive: Any) -> None:
    outer = folder(drive, "outer")
    inner = upload(drive, "inner", outer, b"1")
    drive.files().delete(fileId=outer).execute()
    for file_id in (outer, inner):
        with pytest.raises(HttpError) as caught:
            drive.files().get(fileId=file_id).execute()
        assert status_of(caught.value) == 404


def test_about_requires_fields_and_names_the_user(drive: Any) -> None:
    assert drive.about().get(fields="user(emailAddress)").execute() == {
        "user": {"emailAddress": DO}
    }
    with pytest.raises(HttpError) as caught:
        drive.about().get().execute()
    assert status_of(caught.value) == 400
