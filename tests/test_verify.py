import pytest

from vistakit.tasks.verify import (Verifier, answer_line, boxed, exact, get, last_number, number, option,
                             option_letter, register, verify, yes_no)


def test_answer_line_takes_the_last_one():
    assert answer_line("Answer: 2\nwait\nanswer:  3 \nbye") == "3"
    assert answer_line("red circle at top left\nANSWER: Red") == "Red"


def test_answer_line_missing_or_empty_is_none():
    assert answer_line("red circle at top left\nred") is None
    assert answer_line("Answer:   \n") is None


def test_boxed_handles_nested_braces():
    assert boxed(r"so \boxed{1} then \boxed{\frac{1}{2}}.") == r"\frac{1}{2}"
    assert boxed("no box here") is None
    assert boxed(r"\boxed{unclosed {") is None


def test_option_letter_precedence():
    # an explicit answer beats a later "C." and a bare letter
    assert option_letter("Answer: (B)\nC. is wrong, so is D") == "B"
    assert option_letter("I think C) fits, not D") == "C"
    assert option_letter("between A and D") == "D"  # last bare letter wins
    assert option_letter("Answer: Dog") is None  # not a letter option
    assert option_letter("nothing here") is None


def test_last_number():
    assert last_number("3 apples and 1,200.5 pears.") == "1,200.5"
    assert last_number("about 50%") == "50%"
    assert last_number("none") is None


def test_exact_normalises():
    assert exact("  Red.  ", "red")
    assert exact("bottom   right!", "bottom right")
    assert not exact("reddish", "red")
    assert not exact(None, "red")


def test_number():
    assert number("3.0", "3")
    assert number("1,000", "1000")
    assert number("50%", "0.5")
    assert number("50%", "50%")
    assert not number("4", "3")
    assert not number("three", "3")
    assert not number(None, "3")


def test_yes_no():
    assert yes_no("Yes.", "yes")
    assert yes_no("yes, yes", "yes")
    assert not yes_no("yes and no", "yes")
    assert not yes_no("no", "yes")
    assert not yes_no("maybe", "no")
    assert not yes_no(None, "no")


def test_option():
    assert option("b", "B")
    assert option("(C) a dog", "C")
    assert not option("A", "B")
    assert not option(None, "A")
    assert option("D) a dog", "D") and option("c.", "C")
    assert not option("a square", "A")  # the article is not option A


def test_generic_answer_task_uses_the_rows_answer_type():
    assert verify("answer", "Answer: 49.0", "49", answer_type="number") == ("49.0", True)
    assert verify("answer", "Answer: 49.0", "49") == ("49.0", False)  # exact by default


def test_verify_shapes_dispatches_on_answer_type():
    assert verify("shapes", "count 3\nAnswer: 3.0", "3", answer_type="number") == ("3.0", True)
    assert verify("shapes", "Answer: yes and no", "yes", answer_type="yes_no") == ("yes and no", False)
    assert verify("shapes", "Answer: Red", "red", answer_type="word") == ("Red", True)


def test_no_answer_line_is_wrong_for_every_generic_task():
    for task in ("exact", "number", "yes_no", "option"):
        assert verify(task, "I count 3 of them\n3", "3") == (None, False)
        # a stated answer in a phrase is an answer line (issue 17: ScienceQA's own "The answer is A.")
        assert verify(task, "so the answer is 3", "3")[0] == "3"


def test_unknown_task_lists_known_ones():
    with pytest.raises(KeyError, match="known tasks: .*shapes"):
        get("no-such-task")


def test_register_new_task():
    register("test-boxed", Verifier(boxed, number))
    assert verify("test-boxed", r"\boxed{12}", "12") == ("12", True)


def test_answer_line_variants_and_their_limits():
    from vistakit.tasks.verify import final_answer

    assert answer_line("Answer:\n1 plus 1 is 2") is None  # the answer line does not reach into the next line
    assert final_answer("Answer:\n49") == "49"  # final_answer does (R3V's form)
    assert answer_line("Answer:Answer: 4") == "4"  # a doubled prefix: the value after the last one
    assert answer_line("**Answer**: 5") == answer_line("The final answer is: 5") == answer_line("Answer - 5") == "5"
    assert answer_line("Answer-like reasoning only") is None
