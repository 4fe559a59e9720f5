"""A Searcher keeps the plans of the queries it answered, for the generation they were made on.

Planning a query looks its compound words up in the index, so a plan made on one generation
must not serve the next: after an update, a repeated query is planned again and answers as a
fresh Searcher does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from index import build_index, update_index
from searcher import Searcher, execution

SCATTERED = {"id": "scattered", "title": "Tin", "body": "Hành lang rộng và chính quyền địa phương."}
COMPOUND = {"id": "compound", "title": "Tin", "body": "Thủ tục hành chính được rút gọn ở phương."}


def page(searcher: Searcher, query: str) -> dict[str, Any]:
    """The whole answer but its timing."""
    answer = searcher.search(query).to_dict()
    answer.pop("took_ms")
    return answer


def test_a_repeated_query_answers_the_same(searcher: Searcher) -> None:
    for query in ("cải cách hành chính", "cai cach hanh chinh", "UBND -Sa Đéc", "xyz OR tỉnh"):
        assert page(searcher, query) == page(searcher, query)


def test_plans_are_made_again_on_a_new_generation(tmp_path: Path, write_jsonl) -> None:  # type: ignore[no-untyped-def]
    source = write_jsonl([SCATTERED])
    build_index([source], tmp_path / "ix")
    with Searcher(tmp_path / "ix") as kept:
        before = page(kept, "hanh chinh")  # planned without the compound "hành_chính"
        assert [hit["id"] for hit in before["hits"]] == ["scattered"]
        write_jsonl([SCATTERED, COMPOUND])
        update_index([source], tmp_path / "ix")
        with Searcher(tmp_path / "ix") as fresh:
            expected = page(fresh, "hanh chinh")
        assert expected["hits"][0]["id"] == "compound"
        assert page(kept, "hanh chinh") == expected


def test_what_a_page_marks_is_worked_out_once_per_query(
    searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    worked_out: list[str] = []
    original = execution.meant_patterns

    def counted(parsed: Any, *rest: Any) -> Any:
        worked_out.append(parsed.text)
        return original(parsed, *rest)

    monkeypatch.setattr(execution, "meant_patterns", counted)
    query = "quy trinh tiep nhan ho so truc tuyen"  # asked by no other test
    first = page(searcher, query)
    assert worked_out == [query]
    assert page(searcher, query) == first
    assert worked_out == [query]
