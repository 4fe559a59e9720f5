"""The relevance benchmark's query forms and judgments (benchmarks/relevance_queries.py)."""

import unicodedata
from pathlib import Path

from benchmarks.relevance_queries import TOPICS, read_qrels, title_forms, topical_queries

QRELS = Path(__file__).resolve().parents[2] / "benchmarks" / "judgments" / "topical_qrels.tsv"


def test_forms_of_a_title_change_only_what_they_say():
    forms = title_forms("x", "Chủ tịch UBND huyện Thanh Thủy họp với Ủy ban nhân dân xã", 2024)
    assert forms["published"] == "Chủ tịch UBND huyện Thanh Thủy họp với Ủy ban nhân dân xã"
    assert forms["unaccented"] == "Chu tich UBND huyen Thanh Thuy hop voi Uy ban nhan dan xa"
    assert forms["tone"] == "Chủ tịch UBND huyện Thanh Thuỷ họp với Uỷ ban nhân dân xã"
    assert forms["acronym"] == "Chủ tịch UBND huyện Thanh Thủy họp với UBND xã"
    assert forms["expanded"].startswith("Chủ tịch Ủy ban nhân dân huyện")
    assert unicodedata.normalize("NFC", forms["nfd"]) == forms["published"] != forms["nfd"]
    assert 3 <= len(forms["fragment"].split()) <= 6
    assert forms["fragment"] in forms["published"]


def test_titles_without_what_a_form_changes_do_not_get_it():
    forms = title_forms("x", "Hà Nội sẽ giảm 10% biên chế, nâng chất lượng công chức", 2024)
    assert forms["published"] == "Hà Nội sẽ giảm 10 biên chế nâng chất lượng công chức"
    assert not {"tone", "tone_fragment", "acronym", "expanded"} & forms.keys()


def test_every_topic_is_judged_once_per_bulletin_on_the_scale():
    qrels = read_qrels(QRELS.read_text(encoding="utf-8"))
    assert len(TOPICS) >= 30
    assert set(qrels) == {topic for topic, _about, _query in TOPICS}
    lines = [
        line.split("\t")[:2]
        for line in QRELS.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith(("#", "topic\t"))
    ]
    assert len(lines) == len({tuple(pair) for pair in lines})
    for grades in qrels.values():
        assert set(grades.values()) <= {0, 1, 2}
        assert 2 in grades.values()


def test_topical_queries_come_with_and_without_accents():
    queries = topical_queries()
    assert len(queries) == 2 * len(TOPICS)
    assert ("T02", "unaccented", "dich vu cong truc tuyen muc do 3") in queries
