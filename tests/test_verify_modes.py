"""Two verdicts (issue 30): each benchmark reader's official scorer (reference-faithful; its own cases stay in
test_verify.py, test_scorers.py and test_benchmarks.py, unchanged) and its train verifier, which also accepts
the forms a careful grader does; the same for the shapes task and the generic `answer` task (users' own rows). Every kind of form on every reader where it applies, in both modes, from
responses a model would write (written here, no records copied); hedges and option lists wrong in both.
Then where the verdicts go: labels, sampled and evaluated records, the decision log, the select step's
diagnostics, the config, and `vistakit verify-check`."""

import json
import typing
from types import SimpleNamespace

import pytest
from PIL import Image

from vistakit.tasks.data import Query
from vistakit.tasks.labels import label_response
from vistakit.tasks.verify import MODES, check, verdicts

CHOICES = ["3", "6 cm", "9", "2\\sqrt{3}"]
OPTION_READERS = [("scienceqa", None), ("geometry3k-mc", None), ("wemath", None), ("mathvista", "option")]
NUMBER_READERS = [("chartqa", None), ("mathvista", "integer"), ("geometry3k", None)]
MEDICAL = ["slake", "vqa-rad"]


def both(task, response, gold, answer_type=None, choices=None):
    official = check(task, response, gold, answer_type, choices)
    train = check(task, response, gold, answer_type, choices, mode="train")
    return official, train


# --- numbers as charts and people write them (ChartQA, MathVista, Geometry3K) ---------------------------------
# (gold, response, train rule); the train verdict accepts each; the official one as its reference does
NUMBER_FORMS = [
    ("45", "The share is 45 percent.\nAnswer: 45%", "percent"),
    ("45%", "Answer: 45", "percent"),
    ("1200", "Answer: $1,200", "currency"),
    ("12", "Answer: €12", "currency"),
    ("12", "Answer: 12 USD", "currency"),
    ("1200", "Answer: 1,200", "thousands"),
    ("1,200", "Answer: 1200", "thousands"),
    ("3500000", "Answer: 3,500,000", "thousands"),
    ("1200", "Answer: 1\\,200", "thousands"),
    ("0", "Answer: 0.0", "zero"),
    ("0.0", "Answer: 0", "zero"),
    ("12", "Answer: 12 apples", "unit"),
    ("12", "Answer: 12 million", "unit"),
    ("5", "Answer: 5 years old", "unit"),
    ("25", "Answer: twenty-five", "number words"),
    ("105", "Answer: one hundred and five", "number words"),
    ("3000", "Answer: three thousand", "number words"),
    ("12", "12", "bare answer"),
]
# what each reference scorer already reads among them (the rest only the train verdict accepts)
OFFICIAL_READS = {
    "chartqa": set(),  # lmms-eval's relaxed_correctness: floats or exact text only
    "mathvista": {"The share is 45 percent.\nAnswer: 45%", "Answer: 12 USD", "Answer: 1,200", "Answer: 1200",
                  "Answer: 3,500,000", "Answer: 0.0", "Answer: 0", "Answer: 12 apples", "Answer: 12 million",
                  "Answer: 5 years old"},
    "geometry3k": {"The share is 45 percent.\nAnswer: 45%", "Answer: 45", "Answer: $1,200", "Answer: 1,200",
                   "Answer: 1200", "Answer: 3,500,000", "Answer: 0.0", "Answer: 0", "Answer: 12 apples"},
}


@pytest.mark.parametrize("task, answer_type", NUMBER_READERS)
@pytest.mark.parametrize("gold, response, kind", NUMBER_FORMS)
def test_number_forms(task, answer_type, gold, response, kind):
    official, train = both(task, response, gold, answer_type)
    assert official.correct is (response in OFFICIAL_READS[task])
    assert train.correct, (kind, train.rule)
    if not official.correct:
        expected = {"bare answer": "bare_answer", "number words": "number_words"}.get(kind, "number_form")
        assert train.rule == expected


def test_number_rules_compare_as_each_reader_does():
    assert both("chartqa", "Answer: 1,250", "1200")[1].correct  # within ChartQA's 5%
    assert not both("chartqa", "Answer: 1,300", "1200")[1].correct
    assert not both("chartqa", "Answer: 0.1", "0")[1].correct  # a gold of 0 needs 0
    assert both("mathvista", "Answer: $3.46", "3.5", "float")[1].correct  # at the gold's decimal places
    assert not both("mathvista", "Answer: $3.44", "3.5", "float")[1].correct
    assert not both("mathvista", "Answer: 1,250", "1200", "integer")[1].correct  # integers: equal
    assert not both("geometry3k", "Answer: twelve", "13")[1].correct
    assert not both("chartqa", "Answer: 45", "0.45")[1].correct  # a bare 45 is not 0.45; 45% is
    assert both("chartqa", "Answer: 45%", "0.45")[0].correct
    assert both("chartqa", "Answer: 1/2", "0.5")[1].rule == "number_form"  # a fraction's value


def test_latex_and_units_on_geometry3k():
    official, train = both("geometry3k", "Answer: \\text{12 cm}", "12")
    assert not official.correct and train.correct and train.rule == "normalised_form"
    assert both("geometry3k", "Answer: 1.2e1", "12")[1].rule == "number_form"
    assert both("geometry3k", "3\\sqrt{2}", "\\sqrt{18}")[1].rule == "bare_answer"  # math-verify on a bare answer
    assert not both("geometry3k", "Answer: 4.24", "3\\sqrt{2}")[1].correct  # a rounded value stays wrong


def test_the_train_verdict_on_the_math_verify_cases(repo_script):
    """Every case scripts/measure_math_verify.py measures math-verify and our reader on: the Geometry3K train
    verdict (both) agrees with the grader on all of them."""
    module = repo_script("scripts/measure_math_verify.py")
    wrong = [(g, a, label) for g, a, label in module.CASES if module.train_verdict(g, a) != label]
    assert not wrong


@pytest.mark.parametrize("task", MEDICAL)
def test_medical_numbers_in_words_and_with_a_word(task):
    for gold, response, rule in [("15", "Answer: fifteen", "number_words"), ("2", "Answer: 2 lesions", "number_form"),
                                 ("0", "Answer: 0.0", "number_form"), ("right lung", "The right lung.", "bare_answer")]:
        official, train = both(task, response, gold, "open")
        assert not official.correct and train.correct and train.rule == rule, response
    assert both(task, "Answer: two", "2", "open")[0].correct  # the medical normaliser's own number words


# --- yes/no said as a sentence or a synonym ------------------------------------------------------------------

YES_NO_FORMS = [("no", "Answer: Nope"), ("yes", "Answer: Yep, it is."), ("yes", "Answer: Yes, there is no fracture."),
                ("no", "Answer: Nah."), ("yes", "Answer: Correct"), ("no", "No")]


@pytest.mark.parametrize("gold, response", YES_NO_FORMS)
@pytest.mark.parametrize("task, answer_type", [("slake", "closed"), ("vqa-rad", "closed"), ("chartqa", None),
                                               ("mathvista", "text")])
def test_yes_no_forms(task, answer_type, gold, response):
    gold = gold.capitalize() if task in ("chartqa", "mathvista") else gold  # those golds are written Yes / No
    official, train = both(task, response, gold, answer_type)
    assert not official.correct and train.correct
    assert train.rule == ("bare_answer" if response == "No" else "yes_no_form")  # a bare `No`: the reference reads it


def test_yes_no_sentences_the_references_read_stay_read():
    official, train = both("slake", "Answer: Yes, it is.", "yes", "closed")
    assert official.correct and train == official  # LLaVA-Med's yes/no reads it: the train verdict is the official one
    official, train = both("chartqa", "Answer: Yes, it is.", "Yes")
    assert not official.correct and train.correct and train.rule == "yes_no_form"
    assert not both("chartqa", "Answer: Yes, it is not.", "Yes")[1].correct  # says the other too
    assert not both("slake", "Answer: Yes. No, wait.", "yes", "closed")[1].correct
    assert not both("slake", "Answer: Yes, but no.", "yes", "closed")[1].correct
    assert not both("chartqa", "Answer: Nope", "Yes")[1].correct


def test_yes_no_as_an_option():
    official, train = both("mathvista", "Answer: Nope", "B", "option", ["Yes", "No"])
    assert not official.correct and train.correct and (train.pred, train.rule) == ("B", "option_text")
    assert both("mathvista", "Yes.", "A", "option", ["Yes", "No"])[1].correct


# --- option letters alone or decorated; a value that is an option's text --------------------------------------

LETTER_FORMS = [  # (gold, response, official, train rule)
    ("B", "B", False, "bare_answer"),
    ("B", "B.", False, "bare_answer"),
    ("C", "(C)", False, "bare_answer"),
    ("B", "Answer: Ｂ", False, "normalised_form"),  # full-width
    ("B", "（Ｂ）", False, "bare_answer+normalised_form"),
    ("B", "Answer: option b", True, "option"),
    ("B", "Answer: **Option B**", True, "option"),
    ("D", "Answer: \\sqrt{12}", False, "option_text"),  # the value of option D, 2\sqrt{3}
    ("B", "Answer: six cm", False, "option_text"),  # option B's text with its number in words
    ("B", "6 cm", False, "bare_answer"),
]


@pytest.mark.parametrize("task, answer_type", OPTION_READERS)
@pytest.mark.parametrize("gold, response, official_correct, rule", LETTER_FORMS)
def test_option_forms(task, answer_type, gold, response, official_correct, rule):
    official, train = both(task, response, gold, answer_type, CHOICES)
    assert official.correct is official_correct
    assert train.correct and train.pred == gold and train.rule == rule


@pytest.mark.parametrize("task, answer_type", OPTION_READERS)
def test_option_text_in_looser_forms(task, answer_type):
    official, train = both(task, "Answer: tree frog", "A", answer_type, ["the tree frog", "the dog"])
    assert not official.correct and train.correct and train.rule == "option_text"
    assert not both(task, "Answer: frog", "A", answer_type, ["the tree frog", "the frog"])[1].correct
    assert not both(task, "Answer: A", "B", answer_type, CHOICES)[1].correct
    # a chain without a stated answer stays wrong: only a short response is its own answer
    assert not both(task, "I think it is B because the side is 6 cm long", "B", answer_type, CHOICES)[1].correct


# --- hedges and option lists: wrong in both modes --------------------------------------------------------------

HEDGES = {
    "option": ["Answer: A, B, C, D", "A, B, C, D", "Answer: B or C", "B or C", "Answer: B/C", "Answer: A and B",
               "Answer: E D C B A", "Answer: (B) or (C)"],
    "number": ["Answer: 12 or 13", "Answer: 12, 13", "Answer: 12 and 13", "Answer: 12 to 13", "Answer: 12, maybe 13",
               "12 or 13"],
    "closed": ["Answer: yes or no", "Answer: yes and no", "Answer: yes/no", "yes or no", "Answer: yes no"],
    "open": ["Answer: lung or liver", "Answer: the lung or the liver"],
}
HEDGE_READERS = ([(t, at, "option", "B", CHOICES) for t, at in OPTION_READERS]
                 + [(t, at, "number", "12", None) for t, at in NUMBER_READERS]
                 + [("mathvista", "float", "number", "12.0", None)]
                 + [(t, "closed", "closed", "yes", None) for t in MEDICAL]
                 + [(t, "open", "open", "lung", None) for t in MEDICAL]
                 + [("chartqa", None, "closed", "Yes", None)])


@pytest.mark.parametrize("task, answer_type, kind, gold, choices", HEDGE_READERS)
def test_hedges_and_option_lists_are_wrong_in_both_modes(task, answer_type, kind, gold, choices):
    for response in HEDGES[kind]:
        official, train = both(task, response, gold, answer_type, choices)
        assert not official.correct and not train.correct, response
        assert train.rule == "hedge", response


def test_uncertainty_only_the_train_verdict_rejects():
    """`maybe B` and `Yes, possibly` are read by the references (lmms-eval's letter patterns, LLaVA-Med's
    yes/no): the official verdict keeps their number, the train verdict never trains on a hedge."""
    for task, response, gold, answer_type, choices in [
            ("scienceqa", "Answer: maybe B", "B", None, CHOICES),
            ("slake", "Answer: Yes, possibly.", "yes", "closed", None),
            ("mathvista", "Answer: perhaps 12", "12", "integer", None),
            ("chartqa", "Answer: not sure", "Yes", None, None),
            ("scienceqa", "Answer: not B", "B", None, CHOICES),  # a negated option (lmms-eval's patterns read B)
            ("chartqa", "Answer: about 12", "12", None, None), ("chartqa", "Answer: 12 (approx.)", "12", None, None)]:
        official, train = both(task, response, gold, answer_type, choices)
        assert not train.correct and train.rule == "hedge", response


def test_a_gold_or_an_option_with_the_word_is_no_hedge():
    assert both("chartqa", "Answer: either", "Either")[1].correct
    official, train = both("scienceqa", "Answer: solid or liquid", "B", None, ["gas", "solid or liquid"])
    assert official.correct and train.correct
    official, train = both("scienceqa", "Answer: A and B", "C", None, ["cats", "dogs", "A and B"])
    assert official.correct and train.correct


# --- the shapes task (the pretrained organism's): the same named rules on its answer line ----------------------
# (answer_type, gold, response a model would write, train rule); the official verdict rejects each
SHAPES_FORMS = [
    ("number", "3", "circles: 2\nsquares: 1\n2 plus 1 is 3\nAnswer: three", "number_words"),
    ("number", "2", "green shapes: 2\nAnswer: two shapes", "number_words"),
    ("number", "3", "red shapes: 3\nAnswer: n = 3", "number_form"),
    ("number", "3", "Three.", "bare_answer+number_words"),
    ("number", "3", "3", "bare_answer"),
    ("number", "3", "circles: 3\nAnswer: **3**", "normalised_form"),
    ("yes_no", "no", "blue triangle: 0\nAnswer: Nope", "yes_no_form"),
    ("yes_no", "yes", "red circle: 1\nAnswer: Yep, there is.", "yes_no_form"),
    ("yes_no", "no", "4 is not more than 5\nAnswer: Not true", "yes_no_form"),
    ("yes_no", "no", "No.", "bare_answer"),
    ("word", "circle", "red shapes: 1\nred circle: 1\nAnswer: A circle.", "words"),
    ("word", "red", "circles: 1\nAnswer: Red (the only circle)", "words"),
    ("word", "circle", "Circle.", "bare_answer"),
]


@pytest.mark.parametrize("answer_type, gold, response, rule", SHAPES_FORMS)
def test_shapes_forms(answer_type, gold, response, rule):
    official, train = both("shapes", response, gold, answer_type)
    assert not official.correct
    assert (train.correct, train.rule) == (True, rule)


@pytest.mark.parametrize("answer_type, gold, response", [
    ("number", "3", "Answer: 3 or 4"), ("number", "3", "Answer: three or four"), ("yes_no", "yes", "Answer: yes or no"),
    ("yes_no", "yes", "Answer: yes no"), ("yes_no", "no", "Answer: No yes"),
    ("word", "red", "Answer: red or blue"), ("word", "circle", "Answer: circle, square")])
def test_shapes_hedges_are_wrong_in_both_modes(answer_type, gold, response):
    official, train = both("shapes", response, gold, answer_type)
    assert not official.correct and not train.correct


def test_shapes_keeps_what_its_official_verdict_reads():
    """The fine-tuned model's own form and what the official matchers already read stay as they were, named by
    the official matcher; a hedge the official yes/no matcher reads (`maybe yes`) only the train verdict rejects;
    what no rule reads stays wrong (`There are three circles.`: a sentence, not a count)."""
    for answer_type, gold, response, matcher in [("number", "3", "Answer: 3", "number"),
                                                 ("number", "3", "Answer: 3 circles", "number"),
                                                 ("yes_no", "yes", "Answer: Yes, there is.", "yes_no"),
                                                 ("word", "red", "Answer: Red.", "exact")]:
        official, train = both("shapes", response, gold, answer_type)
        assert official == train and (train.correct, train.rule) == (True, matcher)
    official, train = both("shapes", "Answer: maybe yes", "yes", "yes_no")
    assert official.correct and (train.correct, train.rule) == (False, "hedge")
    for response in ("Answer: There are three circles.", "circles: 3\nThere are three."):
        assert not check("shapes", response, "3", "number", mode="train").correct


# --- the generic `answer` task (users' own rows): the same named rules by the row's answer_type ----------------
LUNGS = ["right lung", "left lung", "heart", "liver"]
# (answer_type, gold, response a model would write, choices, train rule); the official verdict rejects each
GENERIC_FORMS = [
    ("number", "1200", "The bars add up to 1200.\nAnswer: $1,200", None, "number_form"),
    ("number", "1200", "Answer: 1\\,200", None, "number_form"),
    ("number", "12", "Answer: twelve", None, "number_words"),
    ("number", "12", "Twelve.", None, "bare_answer+number_words"),
    ("number", "12", "12", None, "bare_answer"),
    ("number", "12", "Answer: **12**", None, "normalised_form"),
    ("yes_no", "no", "There is no fracture.\nAnswer: Nope", None, "yes_no_form"),
    ("yes_no", "yes", "Answer: Correct, there is one.", None, "yes_no_form"),
    ("yes_no", "no", "No.", None, "bare_answer"),
    ("yes_no", "yes", "Answer: Ｙｅｓ", None, "normalised_form"),
    ("word", "left lung", "The mass is on the left.\nAnswer: The left lung.", None, "words"),
    ("word", "left lung", "The left lung.", None, "bare_answer+words"),
    ("word", "left lung", "Answer: *left lung*", None, "normalised_form"),
    ("option", "B", "Answer: option b", LUNGS, "option_letter"),
    ("option", "B", "Answer: B is correct", LUNGS, "option_letter"),
    ("option", "B", "The mass is on the left.\nAnswer: The left lung.", LUNGS, "option_text"),
    ("option", "B", "B.", LUNGS, "bare_answer"),
    ("option", "B", "B.", None, "bare_answer"),
    ("option", "B", "Answer: Ｂ", None, "normalised_form"),
    (None, "1200", "Answer: $1,200", None, "number_form"),  # no answer_type: each rule where the gold is its kind
    (None, "no", "Answer: Nope", None, "yes_no_form"),
    (None, "left lung", "Answer: The left lung.", None, "words"),
]


@pytest.mark.parametrize("answer_type, gold, response, choices, rule", GENERIC_FORMS)
def test_generic_answer_forms(answer_type, gold, response, choices, rule):
    official, train = both("answer", response, gold, answer_type, choices)
    assert not official.correct
    assert (train.correct, train.rule) == (True, rule)


def test_generic_answer_keeps_what_its_official_verdict_reads():
    """The forms the row's matcher already reads are the official verdict in both modes, named by the matcher;
    what no rule reads stays wrong (an option's text or `option b` without the row's choices)."""
    for answer_type, gold, response, matcher in [("number", "1200", "Answer: 1,200", "number"),
                                                 ("number", "3", "Answer: 3.0", "number"),
                                                 ("yes_no", "yes", "Answer: Yes, it is.", "yes_no"),
                                                 ("word", "left lung", "Answer: Left lung.", "exact"),
                                                 ("option", "B", "Answer: (B)", "option")]:
        official, train = both("answer", response, gold, answer_type)
        assert official == train and (train.correct, train.rule) == (True, matcher), response
    for answer_type, gold, response, choices in [("option", "B", "Answer: The left lung.", None),
                                                 ("option", "B", "Answer: option b", None),
                                                 ("option", "B", "Answer: The right lung.", LUNGS),
                                                 ("number", "12", "Answer: thirteen", None),
                                                 ("word", "left lung", "Answer: lung", None),
                                                 ("yes_no", "yes", "I think there is one.", None)]:
        assert not both("answer", response, gold, answer_type, choices)[1].correct, response


@pytest.mark.parametrize("answer_type, gold, response, choices", [
    ("number", "2", "Answer: 2 or 3", None), ("number", "2", "Answer: 2, 3", None), ("number", "2", "2 or 3", None),
    ("yes_no", "yes", "Answer: yes or no", None), ("yes_no", "yes", "Answer: yes/no", None),
    ("word", "left lung", "Answer: left lung or right lung", None),
    ("option", "A", "Answer: A, B, C, D", None), ("option", "A", "Answer: A, B, C, D", LUNGS),
    ("option", "B", "Answer: B or C", None), ("option", "B", "Answer: B or C", LUNGS), ("option", "B", "A, B", LUNGS),
    (None, "2", "Answer: 2 or 3", None)])
def test_generic_answer_hedges_are_wrong_in_both_modes(answer_type, gold, response, choices):
    official, train = both("answer", response, gold, answer_type, choices)
    assert not official.correct and (train.correct, train.rule) == (False, "hedge")


def test_generic_answer_hedges_only_the_train_verdict_rejects():
    """The generic letter matcher reads the first letter of `(A) (B)` and `A. B.` (and the yes/no matcher reads
    `Yes, possibly`): the official verdict stays as it was, the train verdict never trains on a hedge, with the
    row's choices or without (a lone letter gold: the options are in the question)."""
    for answer_type, gold, response, choices in [("option", "A", "Answer: (A) (B)", None),
                                                 ("option", "A", "Answer: A. B.", None),
                                                 ("option", "A", "Answer: (A) (B)", LUNGS),
                                                 ("yes_no", "yes", "Answer: Yes, possibly.", None)]:
        official, train = both("answer", response, gold, answer_type, choices)
        assert official.correct and (train.correct, train.rule) == (False, "hedge"), response


# --- the verdicts' records ------------------------------------------------------------------------------------

def test_verdicts_and_rules():
    v = verdicts("chartqa", "Answer: 1,200", "1200")
    assert (v["official"].correct, v["official"].rule) == (False, "no_match")
    assert (v["train"].correct, v["train"].rule, v["train"].pred) == (True, "number_form", "1200")
    assert check("chartqa", "Answer: 1,200", "1200", mode="official") == v["official"]
    assert set(verdicts("exact", "Answer: Red", "red")) == {"official"}  # one verifier: one verdict
    assert check("exact", "Answer: Red.", "red", mode="train") == check("exact", "Answer: Red.", "red")
    assert set(verdicts("answer", "Answer: 3", "3", "number")) == {"official", "train"}
    assert set(verdicts("shapes", "Answer: 3", "3", "number")) == {"official", "train"}
    assert check("chartqa", "no answer here", "12").rule == "no_answer"
    with pytest.raises(ValueError, match="official, train"):
        check("chartqa", "Answer: 1", "1", mode="lenient")


def test_labels_carry_both_verdicts_where_they_can_differ():
    q = Query(id="c1", question="Total?", answer="1200", images=[], task="chartqa")
    label = label_response(q, "Answer: 1,200", "train")
    assert label["correct"] is True and label["verify_mode"] == "train"
    assert (label["correct_official"], label["correct_train"]) == (False, True)
    assert (label["rule_official"], label["rule_train"]) == ("no_match", "number_form")
    assert (label["pred_official"], label["pred_train"]) == ("1,200", "1200")
    official = label_response(q, "Answer: 1,200")
    assert official["correct"] is False and official["verify_mode"] == "official" and official["correct_train"] is True
    same = label_response(q, "Answer: 1200", "train")
    assert "pred_official" not in same and same["rule_official"] == same["rule_train"] == "relaxed_correctness"
    exact = Query(id="e1", question="Colour?", answer="red", images=[], task="exact")
    assert set(label_response(exact, "Answer: red", "train")) == {"pred", "correct", "grounded"}  # one verdict
    generic = Query(id="g1", question="How many?", answer="1200", images=[], task="answer", answer_type="number")
    label = label_response(generic, "Answer: $1,200", "train")
    assert (label["correct"], label["correct_official"], label["rule_train"]) == (True, False, "number_form")
    shapes = Query(id="s1", question="How many?", answer="3", images=[], task="shapes", answer_type="number")
    label = label_response(shapes, "Answer: three", "train")
    assert (label["correct"], label["correct_official"], label["rule_train"]) == (True, False, "number_words")


def test_config_modes_are_the_verifiers():
    from vistakit.config import RunConfig, VerifyMode, load_config

    assert set(typing.get_args(VerifyMode)) == set(MODES)
    cfg = RunConfig()
    assert (cfg.verify.mode, cfg.verify.eval_mode) == ("train", "official")
    assert load_config(None, ["verify.mode=official"]).verify.mode == "official"


class _Processor:
    def apply_chat_template(self, messages, add_generation_prompt=True, tokenize=False):
        return "".join(part.get("text", "<image>") for m in messages for part in m["content"])


class _Backend:
    """Writes the answer the way a free model might: `Answer: 1,200` for every chart question."""

    def generate(self, prompts, images, samples_per_query, temperature, max_new_tokens, seed, prefixes=None):
        from vistakit.sampling.hf_backend import Generation

        return [[Generation("The bars add up.\nAnswer: 1,200", [1, 2, 3], True)] * samples_per_query for _ in prompts]


def test_sampled_and_evaluated_records_carry_the_modes_verdict(tmp_path):
    from vistakit.evaluation.evaluate import evaluate
    from vistakit.sampling.sample import sample_queries

    Image.new("RGB", (8, 8)).save(tmp_path / "c.png")
    queries = [Query(id="c1", question="Total?", answer="1200", images=[tmp_path / "c.png"], task="chartqa",
                     extra={"subset": "human"})]
    samples = sample_queries(_Backend(), _Processor(), queries, tmp_path / "sample", samples_per_query=2,
                             temperature=1.0, max_new_tokens=8, queries_per_batch=4, seed=0, verify_mode="train")
    verdicts_ = [(r["correct"], r["correct_official"], r["rule_train"]) for r in samples]
    assert verdicts_ == [(True, False, "number_form")] * 2
    metrics = evaluate(_Backend(), _Processor(), queries, tmp_path / "eval", max_new_tokens=8, queries_per_batch=4)
    assert metrics["accuracy"] == 0.0  # evaluation counts the official verdict: relaxed accuracy reads no "1,200"
    (record,) = [json.loads(line) for line in (tmp_path / "eval" / "samples.jsonl").read_text().splitlines()]
    assert record["verify_mode"] == "official" and record["correct_train"] is True


def test_the_decision_log_records_mode_and_rule(tmp_path):
    from vistakit import steps
    from vistakit.config import load_config
    from vistakit.evaluation.diagnostics import verdict_modes
    from vistakit.runfolder import read_jsonl

    cfg = load_config(None, [f"run_dir={tmp_path}"])
    ctx = SimpleNamespace(cfg=cfg, round_dir=lambda t: tmp_path / f"round_{t}")
    q = Query(id="c1", question="Total?", answer="1200", images=[], task="chartqa")
    shapes = Query(id="s1", question="How many?", answer="3", images=[], task="shapes", answer_type="number")
    records = [{"query_id": q.id, "source": "sample", "sample": k, "response": text, "token_ids": [k],
                **label_response(q, text, cfg.verify.mode)}
               for k, text in enumerate(["Answer: 1,200", "Answer: 1200", "Answer: 12 or 1200", "Answer: 900"])]
    records.append({"query_id": shapes.id, "source": "sample", "sample": 0, "response": "Answer: 3", "token_ids": [1],
                    **label_response(shapes, "Answer: 3", cfg.verify.mode)})
    decisions = steps.select(ctx, records)
    steps.write_decisions(ctx, 1, decisions)
    log = read_jsonl(tmp_path / "round_1" / "select" / "decisions.jsonl")
    assert [(d["kept"], d["rule_train"], d["rule_official"]) for d in log[:4]] == [
        (True, "number_form", "no_match"), (True, "relaxed_correctness", "relaxed_correctness"),
        (False, "hedge", "no_match"), (False, "no_match", "no_match")]
    assert all(d["verify_mode"] == "train" for d in log)  # the shapes row too (both verdicts, as chartqa's)
    assert verdict_modes(decisions) == {"samples": 5, "official_correct": 2, "train_correct": 3, "train_only": 1,
                                        "official_only": 0, "kept_train_only": 1,
                                        "train_only_rules": {"number_form": 1}}
    assert steps._common(SimpleNamespace(cfg=cfg, system=None))["verify_mode"] == "train"


# --- vistakit verify-check ---------------------------------------------------------------------------------------

def test_verify_check_reports_both_verdicts_and_agreement(tmp_path, capsys):
    from vistakit.cli import main

    rows = [{"task": "chartqa", "response": "The bars add up.\nAnswer: 1,200", "gold": "1200", "label": True},
            {"task": "chartqa", "response": "Answer: 12 or 13", "gold": "12", "label": False},
            {"task": "scienceqa", "response": "B.", "answer": "B", "choices": ["cat", "dog"], "label": True},
            {"task": "slake", "response": "Answer: Nope", "gold": "no", "answer_type": "closed"},
            {"response": "Answer: 3", "gold": "3", "answer_type": "number"}]
    path = tmp_path / "outputs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["verify-check", str(path), "--task", "shapes"]) == 0
    out = capsys.readouterr().out
    table = {line.split()[0]: line.split()[1:] for line in out.split("\n\n")[1].splitlines()[1:]}
    assert table["chartqa"] == ["2", "0", "1", "1", "50.0%", "2", "50.0%", "100.0%"]
    assert table["scienceqa"][:5] == ["1", "0", "1", "1", "0.0%"]
    assert table["shapes"][:5] == ["1", "1", "1", "0", "100.0%"]
    assert table["all"][:5] == ["5", "1", "4", "3", "40.0%"]
    assert "no no_match" in out and "yes number_form" in out and "no hedge" in out and "yes bare_answer" in out
    assert main(["verify-check", str(path), "--task", "shapes", "--differing"]) == 0
    rows_listed = capsys.readouterr().out.split("\n\n")[0].splitlines()[1:]
    assert [line.split()[0] for line in rows_listed] == ["1", "3", "4"]  # the modes differ (or one is wrong)
    path.write_text('{"task": "chartqa", "response": "Answer: 1"}\n')
    assert main(["verify-check", str(path)]) == 2
    assert f"{path}:1: field 'gold' must be a string (or 'answer')" in capsys.readouterr().err


def test_verify_check_shows_both_verdicts_of_generic_answer_rows(tmp_path, capsys):
    from vistakit.cli import main

    rows = [{"response": "Answer: $1,200", "gold": "1200", "answer_type": "number", "label": True},
            {"response": "Answer: Nope", "answer": "no", "answer_type": "yes_no"},
            {"response": "Answer: 2 or 3", "gold": "2", "answer_type": "number", "label": False},
            {"response": "Answer: The left lung.", "gold": "B", "answer_type": "option", "choices": LUNGS},
            {"response": "Answer: (B)", "gold": "B", "answer_type": "option"}]
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["verify-check", str(path), "--task", "answer"]) == 0
    listed, table = capsys.readouterr().out.split("\n\n")
    rules = [line.split()[2:6] for line in listed.splitlines()[1:]]
    assert rules == [["no", "no_match", "yes", "number_form"], ["no", "no_match", "yes", "yes_no_form"],
                     ["no", "no_match", "no", "hedge"], ["no", "no_match", "yes", "option_text"],
                     ["yes", "option", "yes", "option"]]
    answer = {line.split()[0]: line.split()[1:] for line in table.splitlines()[1:]}["answer"]
    assert answer == ["5", "1", "4", "3", "40.0%", "2", "50.0%", "100.0%"]
