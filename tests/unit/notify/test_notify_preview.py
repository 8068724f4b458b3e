"""Size caps of the code preview (50 KiB per file, 500 KiB in all) and of the stderr tail."""

from __future__ import annotations

from syft_monitors.events import Event, EventKind, JobDetails, JobRef
from syft_monitors.notify.plan import NotifyConfig, plan_notifications
from syft_monitors.notify.preview import (
    KIB,
    MAX_FILE_BYTES,
    MAX_STDERR_BYTES,
    MAX_TOTAL_CODE_BYTES,
    build_code_preview,
    format_size,
    list_file_names,
    tail_text,
)


def test_caps_are_the_documented_sizes() -> None:
    assert MAX_FILE_BYTES == 50 * 1024
    assert MAX_TOTAL_CODE_BYTES == 500 * 1024
    assert MAX_STDERR_BYTES == 50 * 1024


def test_file_at_the_cap_is_whole_and_one_byte_more_is_cut() -> None:
    preview = build_code_preview(
        {"a.py": b"a" * MAX_FILE_BYTES, "b.py": b"b" * (MAX_FILE_BYTES + 1)}
    )
    a, b = preview.files
    assert (a.truncated, len(a.content or "")) == (False, MAX_FILE_BYTES)
    assert (b.truncated, len(b.content or ""), b.size) == (True, MAX_FILE_BYTES, MAX_FILE_BYTES + 1)
    assert preview.not_shown == 0


def test_total_cap_boundary() -> None:
    ten = {f"f{i:02}.py": b"x" * MAX_FILE_BYTES for i in range(10)}
    exactly = build_code_preview(ten)
    assert len(exactly.files) == 10
    assert exactly.not_shown == 0
    assert exactly.shown_bytes == MAX_TOTAL_CODE_BYTES

    over = build_code_preview({**ten, "f10.py": b"y", "f11.py": b"z"})
    assert len(over.files) == 10
    assert over.not_shown == 2


def test_truncated_files_count_their_shown_part_only() -> None:
    big = {f"f{i:02}.py": b"x" * (MAX_FILE_BYTES * 3) for i in range(10)}
    preview = build_code_preview(big)
    assert len(preview.files) == 10
    assert all(f.truncated for f in preview.files)
    assert preview.not_shown == 0


def test_binary_files_are_listed_not_shown_and_cost_nothing() -> None:
    code = {
        "blob.bin": b"\x00\x01\x02" * 100_000,
        "latin1.txt": "café".encode("latin-1"),
        "main.py": b"print(1)\n",
    }
    preview = build_code_preview(code)
    by_path = {f.path: f for f in preview.files}
    assert by_path["blob.bin"].binary
    assert by_path["blob.bin"].size == 300_000
    assert by_path["latin1.txt"].binary
    assert by_path["main.py"].content == "print(1)\n"
    assert preview.shown_bytes == len(b"print(1)\n")


def test_a_cut_inside_a_multibyte_character_drops_it() -> None:
    data = b"a" * (MAX_FILE_BYTES - 1) + "é".encode()  # é straddles the cap
    (file,) = build_code_preview({"u.py": data}).files
    assert file.truncated
    assert file.content == "a" * (MAX_FILE_BYTES - 1)


def test_stderr_tail_boundaries() -> None:
    exact = tail_text("e" * MAX_STDERR_BYTES)
    assert (exact.cut, exact.full_size) == (False, MAX_STDERR_BYTES)
    over = tail_text("S" + "e" * MAX_STDERR_BYTES)
    assert over.cut
    assert over.full_size == MAX_STDERR_BYTES + 1
    assert over.text == "e" * MAX_STDERR_BYTES


def test_stderr_is_cleaned_of_terminal_escapes() -> None:
    tail = tail_text("\x1b[31mError\x1b[0m\r\nnext\x07")
    assert tail.text == "Error\nnext"


def test_file_list_is_capped() -> None:
    names, more = list_file_names([f"f{i:04}.py" for i in range(250)] + ["f0000.py"])
    assert len(names) == 200
    assert more == 50
    assert names[0] == "f0000.py"


def test_sizes() -> None:
    assert format_size(10) == "10 bytes"
    assert format_size(50 * KIB) == "50.0 KB"
    assert format_size(3 * KIB * KIB) == "3.0 MB"


def _new_job_text(code: dict[str, bytes]) -> str:
    job = JobRef("do@example.org", "ds@example.org", "big")
    event = Event(
        kind=EventKind.NEW_JOB, do_email="do@example.org", job=job, details=JobDetails(code=code)
    )
    return plan_notifications(event, config=NotifyConfig())[0].text


def test_new_job_email_announces_what_was_left_out() -> None:
    code = {f"f{i:02}.py": b"x" * (MAX_FILE_BYTES + 10) for i in range(12)}
    code["z.bin"] = b"\x00" * 10
    text = _new_job_text(code)
    assert text.count("[truncated: only the first 50.0 KB of 50.0 KB are shown]") == 10
    assert "... 3 more files not shown (email size limit of 500.0 KB reached)" in text
    assert "f10.py (" not in text.split("--- Code ---")[1]


def test_new_job_email_size_is_bounded() -> None:
    code = {f"f{i:03}.py": b"x" * (MAX_FILE_BYTES * 4) for i in range(100)}
    job = JobRef("do@example.org", "ds@example.org", "huge")
    event = Event(
        kind=EventKind.NEW_JOB, do_email="do@example.org", job=job, details=JobDetails(code=code)
    )
    do_email = plan_notifications(event, config=NotifyConfig())[0]
    assert len(do_email.text.encode()) < MAX_TOTAL_CODE_BYTES + 64 * KIB
    assert do_email.html is not None
    assert len(do_email.html.encode()) < MAX_TOTAL_CODE_BYTES + 128 * KIB
