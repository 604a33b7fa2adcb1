"""Tests of :mod:`refsampler.schedules`: piecewise-linear alpha schedules."""

from __future__ import annotations

import dataclasses
import itertools
import json
import pickle
import re
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refsampler.errors import InvalidArgumentError
from refsampler.schedules import AlphaSchedule, linear, parse, piecewise

KNOTS = st.lists(
    st.tuples(st.integers(0, 1000), st.floats(0, 1, allow_nan=False)),
    min_size=1,
    max_size=6,
    unique_by=lambda k: k[0],
).map(sorted)


def _reference(knots: list[tuple[int, float]], epoch: int) -> Fraction:
    """Alpha at ``epoch``, computed exactly: first alpha before, last after, linear between."""
    if epoch <= knots[0][0]:
        return Fraction(knots[0][1])
    for (e0, a0), (e1, a1) in itertools.pairwise(knots):
        if e0 <= epoch <= e1:
            return Fraction(a0) + (Fraction(a1) - Fraction(a0)) * Fraction(epoch - e0, e1 - e0)
    return Fraction(knots[-1][1])


@settings(max_examples=60, deadline=None)
@given(knots=KNOTS, epoch=st.integers(0, 1200))
def test_piecewise_interpolates_and_is_constant_outside(
    knots: list[tuple[int, float]], epoch: int
) -> None:
    """Exact at the knots, the linear interpolation between (to float rounding), the first
    knot's alpha before it and the last's after it; always in [0, 1]."""
    schedule = piecewise(knots)
    for e, a in knots:
        assert schedule(e) == a
    value = schedule(epoch)
    assert 0.0 <= value <= 1.0
    assert abs(Fraction(value) - _reference(knots, epoch)) <= Fraction(1, 2**50)
    assert schedule(knots[-1][0] + 10**6) == knots[-1][1]


def test_documented_examples() -> None:
    """The examples of the docstrings."""
    schedule = piecewise([(0, 0.0), (10, 1.0)])
    assert (schedule(0), schedule(5), schedule(10), schedule(99)) == (0.0, 0.5, 1.0, 1.0)
    assert piecewise([(0, 0.0), (30, 0.5), (90, 1.0)])(60) == 0.75
    assert linear(0.0, 1.0, 4)(1) == 0.25
    late = piecewise([(5, 0.2), (6, 0.4)])
    assert late(0) == 0.2 and late(100) == 0.4


@pytest.mark.parametrize(("start", "end", "epochs"), [(0.0, 1.0, 4), (1.0, 0.0, 3), (0.3, 0.3, 1)])
def test_linear_runs_from_start_to_end(start: float, end: float, epochs: int) -> None:
    """linear(start, end, T): start at 0, end at T and after, the line between."""
    schedule = linear(start, end, epochs)
    assert schedule.knots == ((0, start), (epochs, end))
    assert schedule(0) == start and schedule(epochs) == end and schedule(epochs + 50) == end
    for e in range(epochs + 1):
        expected = Fraction(start) + (Fraction(end) - Fraction(start)) * Fraction(e, epochs)
        assert abs(Fraction(schedule(e)) - expected) <= Fraction(1, 2**50)


def _raises(*parts: str) -> Any:
    """pytest.raises for InvalidArgumentError whose message holds every part, in order."""
    return pytest.raises(InvalidArgumentError, match=".*".join(re.escape(p) for p in parts))


@pytest.mark.parametrize(
    ("knots", "parts"),
    [
        ([(10, 0.0), (5, 1.0)], ("`knots`", "strictly increasing", "epoch 5 after 10", "knots[1]")),
        ([(0, 0.0), (0, 1.0)], ("`knots`", "strictly increasing", "epoch 0 after 0")),
        ([(0, 1.5)], ("`knots[0][1]`", "1.5")),
        ([(0, 0.0), (3, -0.25)], ("`knots[1][1]`", "-0.25")),
        ([(0, float("nan"))], ("`knots[0][1]`", "nan")),
        ([(-1, 0.5)], ("`knots[0][0]`", "-1")),
        ([], ("`knots`", "non-empty")),
        ("0:1", ("`knots`",)),
        ([(0, 0.5, 1)], ("`knots[0]`", "pair")),
        ([0.5], ("`knots[0]`", "pair")),
    ],
)
@pytest.mark.parametrize("make", [piecewise, AlphaSchedule], ids=["piecewise", "AlphaSchedule"])
def test_bad_knots_are_refused(make: Any, knots: Any, parts: tuple[str, ...]) -> None:
    """Bad knots raise InvalidArgumentError naming the argument and showing the value, from
    piecewise() and from the public constructor alike."""
    with _raises(*parts):
        make(knots)


def test_the_constructor_normalises_knots() -> None:
    """AlphaSchedule(knots) stores (int, float) tuples, equal to piecewise's schedule."""
    made = AlphaSchedule([[0, 0], [4, 1]])  # type: ignore[arg-type]
    assert made.knots == ((0, 0.0), (4, 1.0)) and made == linear(0.0, 1.0, 4)


@pytest.mark.parametrize(
    ("epoch", "parts"),
    [(-1, ("`epoch`", "-1")), (1.5, ("`epoch`", "1.5")), ("2", ("`epoch`", "'2'"))],
)
def test_calling_with_a_bad_epoch_is_refused(epoch: Any, parts: tuple[str, ...]) -> None:
    """Alpha is defined at epochs 0, 1, 2, ...; anything else is an error, not a guess."""
    with _raises(*parts):
        linear(0.0, 1.0, 4)(epoch)


@pytest.mark.parametrize(
    ("args", "parts"),
    [
        ((1.5, 1.0, 4), ("`start`", "1.5")),
        ((0.0, -0.1, 4), ("`end`", "-0.1")),
        ((0.0, 1.0, 0), ("`epochs`", "0")),
        ((0.0, 1.0, 2.5), ("`epochs`", "2.5")),
    ],
)
def test_linear_rejects_bad_arguments(args: tuple[Any, Any, Any], parts: tuple[str, ...]) -> None:
    """Bad linear() arguments raise InvalidArgumentError naming the argument and the value."""
    with _raises(*parts):
        linear(*args)


def test_schedules_are_immutable_values() -> None:
    """Frozen, hashable, equal by knots, picklable."""
    a = piecewise([(0, 0.0), (10, 1.0)])
    b = linear(0.0, 1.0, 10)
    assert a == b and hash(a) == hash(b)
    assert a != piecewise([(0, 0.0), (11, 1.0)])
    assert len({a, b, piecewise([(0, 0.5)])}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.knots = ((0, 1.0),)  # type: ignore[misc]
    copy = pickle.loads(pickle.dumps(a))
    assert copy == a and copy(5) == a(5)


@settings(max_examples=40, deadline=None)
@given(knots=KNOTS)
def test_json_description_round_trips(knots: list[tuple[int, float]]) -> None:
    """to_dict is JSON-serialisable ({"piecewise": [[e, a], ...]}) and from_dict rebuilds the
    same schedule, also through a JSON string; str() is parse()'s format."""
    schedule = piecewise(knots)
    data = schedule.to_dict()
    assert data == {"piecewise": [[e, a] for e, a in knots]}
    assert AlphaSchedule.from_dict(json.loads(json.dumps(data))) == schedule
    assert AlphaSchedule.from_dict(data) == schedule


@pytest.mark.parametrize("data", [{"linear": [[0, 0.0]]}, [[0, 0.0]], {"piecewise": [], "x": 1}])
def test_from_dict_rejects_other_shapes(data: Any) -> None:
    """Anything but {"piecewise": [...]} names `schedule`."""
    with _raises("`schedule`"):
        AlphaSchedule.from_dict(data)


@settings(max_examples=60, deadline=None)
@given(knots=KNOTS)
def test_the_text_form_reads_back_exactly(knots: list[tuple[int, float]]) -> None:
    """parse(str(schedule)) is the schedule itself: alphas beyond six digits are written in
    full, so two schedules never share a text (a sampler's fingerprint is built from it)."""
    schedule = piecewise(knots)
    assert parse(str(schedule)) == schedule


def test_schedules_that_differ_past_six_digits_have_different_texts() -> None:
    """1/3 and 0.333333 are different schedules and print differently; 0.25 stays short."""
    third, rounded = piecewise([(0, 1 / 3), (90, 1.0)]), piecewise([(0, 0.333333), (90, 1.0)])
    assert str(third) != str(rounded)
    assert str(piecewise([(0, 0.25), (90, 1.0)])) == "0:0.25,90:1"


def test_minus_zero_is_zero_so_equal_schedules_print_alike() -> None:
    """piecewise with -0.0 equals the one with 0.0 and prints the same, so a state saved
    under one resumes under the other (the fingerprint hashes the text)."""
    minus, plus = piecewise([(0, -0.0), (5, 1.0)]), piecewise([(0, 0.0), (5, 1.0)])
    assert minus == plus and str(minus) == str(plus) == "0:0,5:1"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (5, '`alpha schedule` must be a string like "0:0,90:1"; got 5.'),
        ("0:1e400", "`alpha schedule` must hold finite alphas in [0, 1]; got '0:1e400'."),
        ("0:nan", "`alpha schedule` must hold finite alphas in [0, 1]; got '0:nan'."),
        (
            "0:1.5",
            "`alpha schedule` '0:1.5' is not a schedule: `knots[0][1]` must be in [0, 1]; "
            "got 1.5.",
        ),
    ],
)
def test_parse_refuses_what_is_no_schedule_text(text: object, message: str) -> None:
    """parse names the text it could not read, never an AttributeError or an inner name."""
    with pytest.raises(InvalidArgumentError) as info:
        parse(text)  # type: ignore[arg-type]
    assert str(info.value) == message


def test_parse_reads_the_cli_format() -> None:
    """parse("0:0,90:1") is piecewise([(0, 0.0), (90, 1.0)]); str() writes that format."""
    schedule = parse("0:0,90:1")
    assert schedule == piecewise([(0, 0.0), (90, 1.0)])
    assert str(schedule) == "0:0,90:1"
    assert parse(str(piecewise([(0, 0.25), (7, 0.5)]))) == piecewise([(0, 0.25), (7, 0.5)])
    for bad in ("0-1", "a:0.5", "0:x", "0:nan"):
        with _raises("`alpha schedule`"):
            parse(bad)
