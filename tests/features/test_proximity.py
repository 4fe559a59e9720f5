"""Word proximity: a bulletin holding the query's words side by side and in order ranks above
one that scatters them, without changing which bulletins match."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from whoosh import query as wq

from index import build_index
from searcher import Searcher
from searcher.fastpath.compiled import Node, compile_query
from searcher.plan import PRODUCT_PLAN, PlanOptions, QueryPlan, leaf_terms
from searcher.query import parse_query

#: Without compound boosts, so that only proximity (pairs, and a run whole in a title) tells
#: the two bulletins apart.
WITHOUT_COMPOUNDS = PlanOptions(compound_boosts=False, proximity=0, title_run=0)
PROXIMITY_ONLY = PlanOptions(compound_boosts=False)

FILLER = "Các đơn vị báo cáo kết quả về văn phòng trước cuối tháng."

#: The same words twice: in order and side by side in one bulletin, scattered in the other
#: (which holds some of them once more, so that it ranks first without proximity).
BULLETINS = [
    {
        "id": "scattered",
        "title": "Kiểm định sơ bộ, tra cứu hồ nước, kiểm lại",
        "body": f"Nhiệm kỳ này giao vụ mùa. Thực tế có ký tên và kết luận, ký kỹ lại. {FILLER} "
        "Hiện trạng quang học, toàn cảnh đều rõ.",
    },
    {
        "id": "adjacent",
        "title": "Kiểm tra hồ sơ, định bộ cứu nước, lại",
        "body": f"Quang cảnh ký kết thực hiện nhiệm vụ. {FILLER} "
        "Kỳ này giao mùa, tế có tên và luận, lại trạng học, toàn đều rõ.",
    },
    {"id": "other", "title": "Hội nghị tổng kết", "body": f"Quang cảnh hội nghị. {FILLER}"},
]


def built(folder: Path, bulletins: list[dict]) -> Path:
    """An index of ``bulletins`` in ``folder``."""
    source = folder / "bulletins.jsonl"
    source.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in bulletins), encoding="utf-8"
    )
    build_index([source], folder / "ix")
    return folder / "ix"


@pytest.fixture(scope="module")
def proximity_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built(tmp_path_factory.mktemp("proximity"), BULLETINS)


def ranked(index: Path, query: str, plan: PlanOptions, fast: bool = True) -> list[str]:
    with Searcher(index, plan=plan, fast=fast) as searcher:
        return [hit.id for hit in searcher.search(query).hits]


@pytest.mark.parametrize(
    "query",
    [
        "quang cảnh ký kết thực hiện nhiệm vụ",
        "quang canh ky ket thuc hien nhiem vu",
        "ký kết thực hiện",
        "ky ket thuc hien",
        "kiểm tra hồ sơ",
        "kiem tra ho so",
    ],
)
@pytest.mark.parametrize("fast", [True, False])
def test_words_side_by_side_rank_above_the_same_words_scattered(
    proximity_index: Path, query: str, fast: bool
) -> None:
    without = ranked(proximity_index, query, WITHOUT_COMPOUNDS, fast)
    assert without[0] == "scattered", "without proximity the scattered bulletin is not below"
    assert ranked(proximity_index, query, PROXIMITY_ONLY, fast)[0] == "adjacent"
    assert ranked(proximity_index, query, PRODUCT_PLAN, fast)[0] == "adjacent"


@pytest.mark.parametrize("query", ["quang cảnh", "quang canh nhiem vu", "kết quả báo cáo", "zzz"])
def test_proximity_never_changes_which_bulletins_match(proximity_index: Path, query: str) -> None:
    for fast in (True, False):
        with (
            Searcher(proximity_index, plan=PRODUCT_PLAN, fast=fast) as on,
            Searcher(proximity_index, plan=PlanOptions(proximity=0), fast=fast) as off,
        ):
            with_it, without = on.search(query, per_page=50), off.search(query, per_page=50)
            assert with_it.total == without.total
            assert {h.id for h in with_it.hits} == {h.id for h in without.hits}


def test_proximity_clauses_are_boosted_phrases_of_adjacent_words() -> None:
    known = lambda field, term: True  # noqa: E731
    accented = QueryPlan(parse_query("ký kết thực hiện"), PRODUCT_PLAN).proximity_boosts(known)
    assert {(q.fieldname, tuple(q.words)) for q in accented} == {
        (field, pair)
        for field in ("title", "body", "captions")
        for pair in [("ký", "kết"), ("kết", "thực"), ("thực", "hiện")]
    }
    assert {q.boost for q in accented} == {PRODUCT_PLAN.proximity}
    folded = QueryPlan(parse_query("ky ket"), PRODUCT_PLAN).proximity_boosts(known)
    assert {(q.fieldname, tuple(q.words)) for q in folded} == {
        ("title_folded", ("ky", "ket")),
        ("body_folded", ("ky", "ket")),
        ("captions_folded", ("ky", "ket")),
    }
    # Quoted phrases, OR and exclusions break adjacency; a lone word has no pair.
    for text in ['"ký kết" thực', "ký OR kết", "ký -kết", "ký"]:
        assert QueryPlan(parse_query(text), PRODUCT_PLAN).proximity_boosts(known) == []
    # Within an acronym's expansion, no pair: it would rank the spelled-out form above UBND.
    expansion = QueryPlan(parse_query("ủy ban nhân dân tỉnh"), PRODUCT_PLAN)
    assert {tuple(q.words) for q in expansion.proximity_boosts(known)} == {("dân", "tỉnh")}
    unknown = QueryPlan(parse_query("ký kết"), PRODUCT_PLAN).proximity_boosts(lambda f, t: False)
    assert unknown == []
    assert QueryPlan(parse_query("ký kết"), PlanOptions(proximity=0)).proximity_boosts(known) == []


def test_a_run_of_three_or_more_typed_words_is_a_phrase_clause_in_the_title() -> None:
    known = lambda field, term: True  # noqa: E731
    boost = PRODUCT_PLAN.title_run
    runs = QueryPlan(parse_query("ký kết thực hiện"), PRODUCT_PLAN).run_boosts(known)
    assert [(q.fieldname, tuple(q.words), q.boost) for q in runs] == [
        ("title", ("ký", "kết", "thực", "hiện"), boost)
    ]
    folded = QueryPlan(parse_query("ky ket thuc"), PRODUCT_PLAN).run_boosts(known)
    assert [(q.fieldname, tuple(q.words)) for q in folded] == [
        ("title_folded", ("ky", "ket", "thuc"))
    ]
    # OR, quotes and exclusions end a run; a run of two is left to the pairs.
    split = QueryPlan(parse_query('ký kết OR thực hiện nhiệm "vụ"'), PRODUCT_PLAN)
    assert [tuple(q.words) for q in split.run_boosts(known)] == [("thực", "hiện", "nhiệm")]
    assert QueryPlan(parse_query("ký kết"), PRODUCT_PLAN).run_boosts(known) == []
    off = QueryPlan(parse_query("ký kết thực"), PlanOptions(title_run=0))
    assert off.run_boosts(known) == []
    assert QueryPlan(parse_query("ký kết thực"), PRODUCT_PLAN).run_boosts(lambda f, t: False) == []


@pytest.mark.parametrize("query", ["Ủy ban nhân dân tỉnh họp", "UBND tỉnh họp"])
def test_a_run_holding_an_acronym_is_also_tried_in_its_other_form(query: str) -> None:
    """A title may write "UBND" where the query spells it out, or the other way round; the
    pairs inside an expansion are not scored, so the run is the only phrase signal there."""
    runs = QueryPlan(parse_query(query), PRODUCT_PLAN).run_boosts(lambda field, term: True)
    assert {tuple(q.words) for q in runs} == {
        ("ủy", "ban", "nhân", "dân", "tỉnh", "họp"),
        ("ubnd", "tỉnh", "họp"),
    }


def test_each_acronym_of_a_run_is_tried_in_either_form() -> None:
    """ "TP. HCM" in a title, "thành phố HCM" typed: one acronym swapped, not the other."""
    plan = QueryPlan(parse_query("Sở cảnh báo ở thành phố HCM"), PRODUCT_PLAN)
    assert {" ".join(q.words) for q in plan.run_boosts(lambda field, term: True)} == {
        "sở cảnh báo ở thành phố hcm",
        "sở cảnh báo ở tp hcm",
        "sở cảnh báo ở thành phố hồ chí minh",
        "sở cảnh báo ở tp hồ chí minh",
    }


#: Two titles: the run "giải quyết khiếu nại" whole in a long title, and only its pairs in a
#: short one (which ranks first on the words and pairs alone, the short title weighing more).
RUN_BULLETINS = [
    {
        "id": "whole",
        "title": "Huyện chỉ đạo các xã giải quyết khiếu nại của người dân vùng sâu",
        "body": FILLER,
    },
    {"id": "pairs", "title": "Giải quyết khiếu, khiếu nại", "body": FILLER},
]


@pytest.fixture(scope="module")
def run_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built(tmp_path_factory.mktemp("runs"), RUN_BULLETINS)


@pytest.mark.parametrize("query", ["giải quyết khiếu nại", "giai quyet khieu nai"])
@pytest.mark.parametrize("fast", [True, False])
def test_a_fragment_standing_whole_in_a_long_title_ranks_above_its_pairs_apart(
    run_index: Path, query: str, fast: bool
) -> None:
    assert ranked(run_index, query, PlanOptions(title_run=0), fast)[0] == "pairs"
    assert ranked(run_index, query, PRODUCT_PLAN, fast)[0] == "whole"


def test_the_fast_path_compiles_boosted_phrases() -> None:
    phrase = wq.Phrase("body", ["ký", "kết"], boost=0.5)
    node = compile_query(wq.Or([phrase, wq.Term("body", "ký")]))
    assert node.children[0] == Node("phrase", "body", ("ký", "kết"), boost=0.5)


def test_explain_lists_the_proximity_clauses(proximity_index: Path) -> None:
    with Searcher(proximity_index) as searcher:
        hit = searcher.search("ký kết thực hiện", explain=True).hits[0]
    assert hit.id == "adjacent"
    assert hit.explanation is not None and 'body:"thực hiện"' in hit.explanation
    plan = QueryPlan(parse_query("ký kết"), PRODUCT_PLAN)
    assert any(isinstance(q, wq.Phrase) for q in leaf_terms(wq.Or(plan.boosts(lambda f, t: True))))


def test_a_caption_typed_without_accents_puts_its_bulletin_first_by_a_wider_margin(
    searcher: Searcher,
) -> None:
    """Bulletin 000's photo caption: its words stand together in 000's caption, scattered in
    003, which holds them many times. Captions alone put 000 first by a hair; proximity
    widens the lead."""
    query = "quang canh ky ket thuc hien nhiem vu"

    def lead(hits: list) -> float:
        assert hits[0].id.startswith("000")
        return hits[0].score - hits[1].score

    with Searcher(searcher.index_dir, plan=PlanOptions(proximity=0)) as without:
        before = lead(without.search(query).hits)
    assert lead(searcher.search(query).hits) > before


# --- long questions: any word, accented fields only when typed with accents -----------------

QUESTION = "quang cảnh ký kết thực hiện nhiệm vụ của các đơn vị báo cáo kết quả năm nay"


def test_a_long_question_matches_any_of_its_words(proximity_index: Path) -> None:
    """More than ``any_word_above`` words: no bulletin needs them all (a question is rarely
    held whole), and the one holding them side by side still comes first."""
    parsed = parse_query(QUESTION)
    assert len(parsed.groups) > PRODUCT_PLAN.any_word_above
    assert isinstance(QueryPlan(parsed, PRODUCT_PLAN).required(), wq.Or)
    short = parse_query(" ".join(QUESTION.split()[: PRODUCT_PLAN.any_word_above]))
    assert isinstance(QueryPlan(short, PRODUCT_PLAN).required(), wq.And)
    with Searcher(proximity_index) as searcher:
        results = searcher.search(QUESTION)
    assert not results.partial
    assert results.hits[0].id == "adjacent"
    assert results.total == len(BULLETINS)
    with Searcher(proximity_index, plan=PlanOptions(any_word_above=0)) as strict:
        assert strict.search(QUESTION).partial  # (the all-words rule, then its fallback)


def test_a_long_questions_pairs_are_weighed_in_the_text_not_the_title() -> None:
    """A question sharing a phrase with an article's short title says little; its words side
    by side in the article's text say more: no title pairs, the others boosted."""
    known = lambda field, term: True  # noqa: E731
    pairs = QueryPlan(parse_query(QUESTION), PRODUCT_PLAN).proximity_boosts(known)
    assert {q.fieldname for q in pairs} == {"body", "captions"}
    expected = PRODUCT_PLAN.proximity * PRODUCT_PLAN.any_word_text_proximity
    assert {q.boost for q in pairs} == {expected}
    flat = PlanOptions(any_word_title_proximity=1, any_word_text_proximity=1)
    same = QueryPlan(parse_query(QUESTION), flat).proximity_boosts(known)
    assert {q.fieldname for q in same} == {"title", "body", "captions"}
    assert {q.boost for q in same} == {PRODUCT_PLAN.proximity}


def test_any_word_matching_of_an_accented_query_skips_the_folded_fields() -> None:
    """Once any one word is enough, folded look-alikes ("kết" for "kệt", "ký" for "kỳ") would
    match and score on their own: an accented question is matched as typed."""
    fields = {q.fieldname for q in leaf_terms(QueryPlan(parse_query(QUESTION)).loose())}
    assert fields == {"title", "body", "captions"}
    unaccented = QueryPlan(parse_query("quang canh ky ket thuc hien")).loose()
    assert {q.fieldname for q in leaf_terms(unaccented)} == {
        "title_folded",
        "body_folded",
        "captions_folded",
    }
    folded_too = QueryPlan(parse_query(QUESTION), PlanOptions(fallback_accent_exact=False))
    assert "body_folded" in {q.fieldname for q in leaf_terms(folded_too.loose())}
