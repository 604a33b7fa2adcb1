"""Tests of :mod:`refsampler.sampler`: BalancedBatchSampler and the SamplerFactory shim.

The sampler is a thin layer, so most tests check that it yields exactly what the pure core
(:class:`refsampler.plan.Plan`, :func:`refsampler.allocation.allocate`,
:func:`refsampler.allocation.quota_schedule`) computes.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset, TensorDataset, random_split

from refsampler import BalancedBatchSampler, SamplerFactory
from refsampler.allocation import allocate, quota_schedule
from refsampler.classes import ClassIndex
from refsampler.conformance.sample import per_batch_counts
from refsampler.errors import InvalidArgumentError, RefSamplerError, RefSamplerWarning
from refsampler.plan import Plan
from refsampler.schedules import linear
from refsampler.targets import interpolate
from tests._assertions import raises_exactly

KINDS = ("fixed", "quota", "random")
#: 100 labels, counts 60/25/10/5, in shuffled order.
LABELS = np.random.default_rng(99).permutation(np.repeat(np.arange(4), [60, 25, 10, 5])).tolist()
README_CLASS_IDXS = [
    [1, 2, 3, 4, 5],
    [6, 7, 8, 9, 10],
    [11, 12],
    [13, 14, 15, 16, 17, 18, 19, 20],
]


class FakeImageFolder(Dataset[tuple[torch.Tensor, int]]):
    """An ImageFolder look-alike: ``.targets`` is a list of ints, ``.classes`` lists names."""

    def __init__(self, targets: list[int], classes: list[str]) -> None:
        self.targets = list(targets)
        self.classes = list(classes)

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return torch.tensor([float(i)]), self.targets[i]


# -- torch protocol and attributes -------------------------------------------------------------


def test_is_a_torch_sampler() -> None:
    """BalancedBatchSampler is a torch.utils.data.Sampler."""
    sampler = BalancedBatchSampler(LABELS, 10, seed=0)
    assert isinstance(sampler, Sampler)


@pytest.mark.parametrize("kind", KINDS)
def test_works_as_dataloader_batch_sampler(kind: str) -> None:
    """DataLoader(dataset, batch_sampler=sampler) gives len(sampler) batches of B items, and
    the items are the sampler's positions."""
    dataset = TensorDataset(torch.arange(len(LABELS)), torch.tensor(LABELS))
    sampler = BalancedBatchSampler(LABELS, 10, kind=kind, alpha=0.5, seed=1)
    expected = sampler.plan.batches(0, 0)
    loader = DataLoader(dataset, batch_sampler=sampler)
    assert len(loader) == len(sampler) == 10
    got = [x.tolist() for x, _ in loader]
    assert got == expected.tolist()


def test_yields_lists_of_python_ints() -> None:
    """Each batch is a list[int] of length B."""
    batch = next(iter(BalancedBatchSampler(LABELS, 10, seed=0)))
    assert isinstance(batch, list)
    assert len(batch) == 10
    assert all(type(i) is int for i in batch)


def test_len_is_n_batches() -> None:
    """len() is n_batches, given or defaulted."""
    assert len(BalancedBatchSampler(LABELS, 10, n_batches=37, seed=0)) == 37


@pytest.mark.parametrize(("batch_size", "expected"), [(10, 10), (7, 15), (100, 1), (1000, 1)])
def test_n_batches_defaults_to_ceil_n_over_b(batch_size: int, expected: int) -> None:
    """Default n_batches is ceil(N / B)."""
    sampler = BalancedBatchSampler(LABELS, batch_size, alpha=0.0, seed=0, kind="quota")
    assert sampler.n_batches == expected == math.ceil(len(LABELS) / batch_size)


def test_n_batches_default_with_replicas() -> None:
    """With replicas the default is ceil(N / (B * num_replicas)), the same on every rank."""
    lengths = {
        len(BalancedBatchSampler(LABELS, 8, num_replicas=3, rank=r, kind="quota")) for r in range(3)
    }
    assert lengths == {math.ceil(100 / 24)}


def test_attributes() -> None:
    """target, classes, class_counts and the configuration are exposed."""
    sampler = BalancedBatchSampler(LABELS, 10, kind="quota", alpha=0.25, n_batches=5, seed=3)
    np.testing.assert_array_equal(sampler.target, interpolate([60, 25, 10, 5], 0.25))
    assert sampler.classes.tolist() == [0, 1, 2, 3]
    assert sampler.class_counts.tolist() == [60, 25, 10, 5]
    assert (sampler.kind, sampler.batch_size, sampler.n_batches, sampler.seed) == (
        "quota",
        10,
        5,
        3,
    )
    assert (sampler.num_replicas, sampler.rank, sampler.epoch) == (1, 0, 0)
    assert isinstance(sampler.plan, Plan)


@pytest.mark.parametrize("name", ["rank", "num_replicas", "seed", "kind", "batch_size"])
def test_configuration_attributes_are_read_only(name: str) -> None:
    """Assigning rank (or any configuration attribute) raises instead of leaving a sampler whose
    attribute and batches disagree."""
    sampler = BalancedBatchSampler(LABELS, 10, num_replicas=2, rank=1, seed=0)
    with pytest.raises(AttributeError):
        setattr(sampler, name, 0)
    assert sampler.rank == 1


def test_an_old_pickle_with_a_plain_rank_attribute_loads() -> None:
    """A sampler pickled when rank was a plain attribute unpickles with that rank."""
    sampler = BalancedBatchSampler(LABELS, 10, num_replicas=2, rank=1, seed=0)
    state = sampler.__getstate__()
    state["rank"] = state.pop("_rank")
    old = BalancedBatchSampler.__new__(BalancedBatchSampler)
    old.__setstate__(state)
    assert old.rank == 1 and list(old) == list(sampler)


def test_target_is_read_only() -> None:
    """The target cannot be modified through the attribute."""
    sampler = BalancedBatchSampler(LABELS, 10, seed=0)
    assert not sampler.target.flags.writeable


def test_alpha_none_means_uniform() -> None:
    """alpha=None (the default) is alpha=1.0: uniform over classes."""
    default = BalancedBatchSampler(LABELS, 10, seed=0)
    explicit_one = BalancedBatchSampler(LABELS, 10, alpha=1.0, seed=0)
    assert default.target.tobytes() == np.full(4, 0.25).tobytes()
    assert list(default) == list(explicit_one)


def test_an_alpha_tensor_that_requires_grad_is_read_without_a_warning() -> None:
    """A 0-d tensor alpha (even one that requires grad) is alpha's value: no torch warning
    leaks from converting it, and the sampler reports a float."""
    alpha = torch.tensor(0.5, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler = BalancedBatchSampler(LABELS, 10, alpha=alpha, seed=0)
    assert type(sampler.alpha) is float and sampler.alpha == 0.5
    assert list(sampler) == list(BalancedBatchSampler(LABELS, 10, alpha=0.5, seed=0))


def test_target_argument_is_used() -> None:
    """An explicit target replaces alpha, and fixed counts follow allocate(target)."""
    target = np.array([0.1, 0.2, 0.3, 0.4])
    sampler = BalancedBatchSampler(LABELS, 10, target=target, seed=0)
    np.testing.assert_array_equal(sampler.target, target)
    counts = per_batch_counts(list(sampler), LABELS, 4)
    assert np.all(counts == allocate(target, 10))


def test_num_classes_adds_zero_share_classes() -> None:
    """num_classes with alpha=0 adds empty classes with zero share."""
    sampler = BalancedBatchSampler(LABELS, 10, alpha=0.0, num_classes=6, seed=0)
    assert sampler.classes.tolist() == list(range(6))
    assert sampler.target[4:].tolist() == [0.0, 0.0]


# -- seeds -------------------------------------------------------------------------------------


def test_seed_none_respects_torch_manual_seed() -> None:
    """seed=None draws the seed from torch's global generator: same torch seed, same batches."""
    torch.manual_seed(1234)
    first = BalancedBatchSampler(LABELS, 10, kind="quota")
    torch.manual_seed(1234)
    second = BalancedBatchSampler(LABELS, 10, kind="quota")
    torch.manual_seed(4321)
    third = BalancedBatchSampler(LABELS, 10, kind="quota")
    assert first.seed == second.seed != third.seed
    assert list(first) == list(second)
    assert list(first) != list(third)


def test_seed_none_with_replicas_is_zero() -> None:
    """With num_replicas > 1 every rank must agree, so the default seed is 0."""
    assert BalancedBatchSampler(LABELS, 10, num_replicas=2, rank=1).seed == 0


def test_explicit_seed_reproduces_and_distinguishes() -> None:
    """The same seed gives the same batches; another seed gives other batches."""
    a = list(BalancedBatchSampler(LABELS, 10, seed=5))
    assert a == list(BalancedBatchSampler(LABELS, 10, seed=5))
    assert a != list(BalancedBatchSampler(LABELS, 10, seed=6))


def test_numpy_int_arguments_accepted() -> None:
    """numpy ints work for batch_size, n_batches and seed."""
    sampler = BalancedBatchSampler(
        LABELS, np.int64(10), n_batches=np.int32(3), seed=np.uint16(2), kind="quota"
    )
    assert (sampler.batch_size, sampler.n_batches, sampler.seed) == (10, 3, 2)
    assert type(sampler.batch_size) is int


# -- the sampler is the pure core ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_batches_equal_the_pure_core(kind: str, alpha: float) -> None:
    """list(sampler) is exactly Plan(...).batches(epoch, rank) built from the core directly."""
    sampler = BalancedBatchSampler(LABELS, 12, kind=kind, alpha=alpha, n_batches=20, seed=11)
    index = ClassIndex.from_labels(LABELS)
    plan = Plan(index, kind, interpolate(index.counts, alpha), 12, 20, 11)
    assert list(sampler) == plan.batches(0, 0).tolist()
    assert list(sampler) == plan.batches(1, 0).tolist()  # the completed pass advanced the epoch


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_fixed_counts_equal_allocate(alpha: float) -> None:
    """Every fixed batch has class counts allocate(interpolate(counts, alpha), B)."""
    sampler = BalancedBatchSampler(LABELS, 12, kind="fixed", alpha=alpha, n_batches=30, seed=0)
    expected = allocate(interpolate([60, 25, 10, 5], alpha), 12)
    assert np.all(per_batch_counts(list(sampler), LABELS, 4) == expected)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_quota_counts_equal_quota_schedule(alpha: float) -> None:
    """The quota batches' class counts are quota_schedule's rows, in order."""
    sampler = BalancedBatchSampler(LABELS, 12, kind="quota", alpha=alpha, n_batches=30, seed=0)
    expected = quota_schedule(interpolate([60, 25, 10, 5], alpha), 12, 30)
    np.testing.assert_array_equal(per_batch_counts(list(sampler), LABELS, 4), expected)


def test_quota_works_where_fixed_is_infeasible() -> None:
    """21 singleton classes at batch 8: fixed raises, quota follows quota_schedule."""
    labels = list(range(21))
    sampler = BalancedBatchSampler(labels, 8, kind="quota", alpha=1.0, n_batches=21, seed=0)
    counts = per_batch_counts(list(sampler), labels, 21)
    np.testing.assert_array_equal(counts, quota_schedule(np.full(21, 1 / 21), 8, 21))


# -- epochs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_set_epoch(kind: str) -> None:
    """set_epoch(e) yields plan.batches(e); another epoch differs; the same epoch reproduces."""
    sampler = BalancedBatchSampler(LABELS, 10, kind=kind, seed=0)
    sampler.set_epoch(3)
    third = list(sampler)
    assert third == sampler.plan.batches(3, 0).tolist()
    sampler.set_epoch(4)
    assert list(sampler) != third
    sampler.set_epoch(3)
    assert list(sampler) == third


def test_completed_pass_advances_epoch() -> None:
    """A plain loop without set_epoch gets epoch 0, then 1, then 2."""
    sampler = BalancedBatchSampler(LABELS, 10, seed=0)
    for epoch in range(3):
        assert sampler.epoch == epoch
        assert list(sampler) == sampler.plan.batches(epoch, 0).tolist()
    assert sampler.epoch == 3


def test_set_epoch_rejects_negative() -> None:
    """A negative epoch is rejected with the exact message."""
    sampler = BalancedBatchSampler(LABELS, 10, seed=0)
    with raises_exactly("`epoch` must be >= 0; got -1."):
        sampler.set_epoch(-1)
    with raises_exactly("`epoch` must be a non-negative int; got 1.0."):
        sampler.set_epoch(1.0)  # type: ignore[arg-type]


# -- resume ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_resume_mid_epoch(kind: str) -> None:
    """A fresh sampler loaded with state_dict() after 3 batches yields the remaining ones."""
    sampler = BalancedBatchSampler(LABELS, 10, kind=kind, seed=4)
    sampler.set_epoch(2)
    iterator = iter(sampler)
    head = [next(iterator) for _ in range(3)]
    state = sampler.state_dict()
    resumed = BalancedBatchSampler(LABELS, 10, kind=kind, seed=4)
    resumed.load_state_dict(state)
    assert head + list(resumed) == sampler.plan.batches(2, 0).tolist()


def test_load_state_dict_from_another_configuration_names_the_difference() -> None:
    """A state of a sampler with another seed is rejected, naming the field and both values."""
    sampler = BalancedBatchSampler(LABELS, 10, seed=0)
    other = BalancedBatchSampler(LABELS, 10, seed=1)
    message = (
        "`state` comes from another sampler configuration; differs in seed (state 1, sampler 0)."
    )
    with raises_exactly(message):
        sampler.load_state_dict(other.state_dict())


def test_load_state_dict_names_every_differing_field() -> None:
    """Different batch size and kind are both named."""
    sampler = BalancedBatchSampler(LABELS, 10, seed=0, n_batches=5)
    other = BalancedBatchSampler(LABELS, 20, kind="quota", seed=0, n_batches=5)
    message = (
        "`state` comes from another sampler configuration; differs in batch_size (state 20, "
        "sampler 10); kind (state 'quota', sampler 'fixed')."
    )
    with raises_exactly(message):
        sampler.load_state_dict(other.state_dict())


def test_load_state_dict_detects_other_labels() -> None:
    """Other labels with the same counts (a different membership) are detected."""
    sampler = BalancedBatchSampler(LABELS, 10, seed=0)
    other = BalancedBatchSampler(LABELS[::-1], 10, seed=0)
    with pytest.raises(InvalidArgumentError, match=r"differs in labels \(state '[0-9a-f]{32}'"):
        sampler.load_state_dict(other.state_dict())


@pytest.mark.parametrize(
    ("state", "shown"),
    [("garbage", "'garbage'"), (None, "None")],
)
def test_load_state_dict_rejects_garbage(state: Any, shown: str) -> None:
    """A state that is not a dict of the right shape is rejected with the exact message."""
    sampler = BalancedBatchSampler(LABELS, 10, seed=0)
    with raises_exactly(
        f"`state` must be a dict from BalancedBatchSampler.state_dict(); got {shown}."
    ):
        sampler.load_state_dict(state)


def test_load_state_dict_rejects_bad_position() -> None:
    """A negative epoch or a position past n_batches is rejected with the exact message."""
    sampler = BalancedBatchSampler(LABELS, 10, seed=0)
    state = sampler.state_dict()
    with raises_exactly("`state['epoch']` must be >= 0; got -1."):
        sampler.load_state_dict({**state, "epoch": -1})
    with raises_exactly("`state['batches_yielded']` must be <= n_batches (10); got 11."):
        sampler.load_state_dict({**state, "batches_yielded": 11})


# -- class_idxs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_from_class_indices_yields_the_given_indices(kind: str) -> None:
    """Yielded positions are the given dataset indices; fixed counts follow allocate."""
    class_idxs = [[100, 7, 55, 3], [21, 22], [999]]
    sampler = BalancedBatchSampler.from_class_indices(
        class_idxs, 6, kind=kind, alpha=0.5, n_batches=12, seed=0
    )
    batches = np.array(list(sampler))
    assert set(np.unique(batches).tolist()) <= {100, 7, 55, 3, 21, 22, 999}
    per_class = np.stack([np.isin(batches, idxs).sum(axis=1) for idxs in class_idxs], axis=1)
    if kind == "fixed":
        assert np.all(per_class == allocate(interpolate([4, 2, 1], 0.5), 6))
    assert sampler.n_batches == 12


def test_from_class_indices_default_n_batches() -> None:
    """Default n_batches counts the indexed positions: ceil(7 / 3)."""
    sampler = BalancedBatchSampler.from_class_indices([[100, 7, 55, 3], [21, 22], [999]], 3)
    assert len(sampler) == 3


# -- datasets ----------------------------------------------------------------------------------


def _image_folder() -> FakeImageFolder:
    """200 samples of 4 classes, 120/50/20/10, interleaved."""
    rng = np.random.default_rng(7)
    targets = rng.permutation(np.repeat(np.arange(4), [120, 50, 20, 10])).tolist()
    return FakeImageFolder(targets, ["cat", "dog", "eel", "fox"])


def test_from_dataset_uses_targets_and_classes() -> None:
    """A dataset with .targets gives the same sampler as its labels."""
    dataset = _image_folder()
    sampler = BalancedBatchSampler.from_dataset(dataset, 16, alpha=0.5, seed=0)
    direct = BalancedBatchSampler(dataset.targets, 16, alpha=0.5, seed=0)
    assert list(sampler) == list(direct)


def test_from_dataset_with_too_few_classes_names_the_dataset() -> None:
    """A root whose .classes lists fewer classes than its targets hold: the message is about
    the dataset, not a num_classes the user never passed; an explicit num_classes wins."""
    dataset = FakeImageFolder(_image_folder().targets, ["cat", "dog", "eel"])
    with raises_exactly(
        "`dataset.classes` must list every class of `dataset.targets`; it lists 3, but the "
        "targets hold label 3.",
    ):
        BalancedBatchSampler.from_dataset(dataset, 16, seed=0)
    explicit = BalancedBatchSampler.from_dataset(dataset, 16, alpha=0.0, seed=0, num_classes=5)
    assert explicit.classes.size == 5


def test_from_dataset_random_split_subset() -> None:
    """On a random_split part, positions index the Subset, their labels are the subset's
    labels, and a DataLoader over the subset gives balanced batches."""
    dataset = _image_folder()
    train, _ = random_split(dataset, [150, 50], generator=torch.Generator().manual_seed(0))
    sampler = BalancedBatchSampler.from_dataset(train, 16, alpha=1.0, seed=0, n_batches=20)
    subset_labels = np.array([dataset.targets[i] for i in train.indices])
    batches = np.array(list(sampler))
    assert batches.min() >= 0
    assert batches.max() < len(train)
    expected = allocate(interpolate(np.bincount(subset_labels, minlength=4), 1.0), 16)
    assert np.all(per_batch_counts(batches, subset_labels, 4) == expected)
    sampler.set_epoch(0)
    loader = DataLoader(train, batch_sampler=sampler)
    for (x, y), positions in zip(loader, batches, strict=True):
        assert y.tolist() == subset_labels[positions].tolist()
        assert x[:, 0].long().tolist() == np.asarray(train.indices)[positions].tolist()
        assert np.bincount(y.numpy(), minlength=4).tolist() == expected.tolist()


def test_from_dataset_nested_subset() -> None:
    """A Subset of a Subset maps positions through both index lists."""
    dataset = _image_folder()
    outer = Subset(dataset, list(range(0, 200, 2)))
    inner = Subset(outer, list(range(99, -1, -3)))
    labels = [inner[i][1] for i in range(len(inner))]
    sampler = BalancedBatchSampler.from_dataset(inner, 8, alpha=0.0, seed=0)
    direct = BalancedBatchSampler(labels, 8, alpha=0.0, seed=0, num_classes=4)
    assert list(sampler) == list(direct)
    assert sampler.classes.tolist() == [0, 1, 2, 3]


def test_from_dataset_takes_k_from_root_classes() -> None:
    """K comes from the root's .classes: a subset missing a class still has K entries, and a
    positive share for the missing class is an error."""
    dataset = _image_folder()
    no_fox = Subset(dataset, [i for i, y in enumerate(dataset.targets) if y != 3])
    sampler = BalancedBatchSampler.from_dataset(no_fox, 8, alpha=0.0, seed=0)
    assert sampler.target.size == 4
    assert sampler.target[3] == 0.0
    with pytest.raises(InvalidArgumentError, match=r"^`alpha`=1.0 gives class 3 a target share"):
        BalancedBatchSampler.from_dataset(no_fox, 8, alpha=1.0, seed=0)


def test_from_dataset_tensor_targets() -> None:
    """.targets may be a tensor (as in MNIST)."""
    dataset = _image_folder()
    dataset.targets = torch.tensor(dataset.targets)  # type: ignore[assignment]
    sampler = BalancedBatchSampler.from_dataset(dataset, 16, seed=0)
    assert sampler.class_counts.tolist() == [120, 50, 20, 10]


def test_from_dataset_without_targets_raises() -> None:
    """A dataset without .targets (and not a Subset of one) is rejected with the exact message."""
    dataset = TensorDataset(torch.arange(10))
    message = (
        "`dataset` must have a `.targets` attribute or be a Subset of a dataset that has one; "
        "got Subset."
    )
    with raises_exactly(message):
        BalancedBatchSampler.from_dataset(Subset(dataset, [0, 1]), 2)
    with raises_exactly(message.replace("got Subset.", "got TensorDataset.")):
        BalancedBatchSampler.from_dataset(dataset, 2)


@pytest.mark.parametrize(
    "convert",
    [list, tuple, np.array, lambda x: np.array(x, dtype=np.uint8), torch.tensor],
    ids=["list", "tuple", "ndarray", "uint8", "tensor"],
)
def test_labels_container_does_not_matter(convert: Any) -> None:
    """Labels as list, tuple, ndarray (any int dtype) or tensor give identical batches."""
    reference = list(BalancedBatchSampler(LABELS, 10, kind="quota", alpha=0.3, seed=2))
    sampler = BalancedBatchSampler(convert(LABELS), 10, kind="quota", alpha=0.3, seed=2)
    assert list(sampler) == reference


# -- inputs are never mutated ------------------------------------------------------------------


def test_labels_list_not_mutated() -> None:
    """A labels list is unchanged after construction and iteration."""
    labels = list(LABELS)
    sampler = BalancedBatchSampler(labels, 10, seed=0)
    list(sampler)
    assert labels == LABELS


def test_labels_array_not_mutated_and_still_writeable() -> None:
    """A labels ndarray is unchanged and stays writeable; later writes do not affect the sampler."""
    labels = np.array(LABELS)
    sampler = BalancedBatchSampler(labels, 10, seed=0)
    before = list(sampler.plan.batches(0, 0).tolist())
    assert labels.tolist() == LABELS
    assert labels.flags.writeable
    labels[:] = 0
    assert sampler.plan.batches(0, 0).tolist() == before


def test_read_only_labels_array_accepted() -> None:
    """A read-only labels array is accepted as is."""
    labels = np.array(LABELS)
    labels.flags.writeable = False
    assert len(BalancedBatchSampler(labels, 10, seed=0)) == 10


def test_labels_tensor_not_mutated() -> None:
    """A labels tensor is unchanged."""
    labels = torch.tensor(LABELS)
    clone = labels.clone()
    list(BalancedBatchSampler(labels, 10, seed=0))
    assert torch.equal(labels, clone)


def test_class_idxs_not_shuffled_in_place() -> None:
    """The caller's class_idxs lists are not shuffled (pytorch_balanced_sampler did)."""
    class_idxs = [list(range(0, 50)), list(range(50, 60))]
    snapshot = [list(x) for x in class_idxs]
    sampler = BalancedBatchSampler.from_class_indices(class_idxs, 8, n_batches=30, seed=0)
    list(sampler)
    assert class_idxs == snapshot


def test_target_array_not_mutated() -> None:
    """The caller's target array is unchanged and stays writeable."""
    target = np.array([0.1, 0.2, 0.3, 0.4])
    BalancedBatchSampler(LABELS, 10, target=target, seed=0)
    assert target.tolist() == [0.1, 0.2, 0.3, 0.4]
    assert target.flags.writeable


# -- bad input (docs/specification.md, "Bad input") -----------------------------------------------

_UNIFORM_21 = "[0.047619 0.047619 0.047619 ... 0.047619 0.047619 0.047619]"
BAD_INPUT = [
    ("alpha-above", [0, 1], {"alpha": 1.5}, "`alpha` must be in [0, 1]; got 1.5."),
    ("alpha-below", [0, 1], {"alpha": -0.5}, "`alpha` must be in [0, 1]; got -0.5."),
    ("alpha-nan", [0, 1], {"alpha": float("nan")}, "`alpha` must be in [0, 1]; got nan."),
    (
        "alpha-str",
        [0, 1],
        {"alpha": "0.5"},
        "`alpha` must be a real number in [0, 1]; got '0.5'.",
    ),
    ("alpha-bool", [0, 1], {"alpha": True}, "`alpha` must be a real number in [0, 1]; got True."),
    ("batch-zero", [0, 1], {"batch_size": 0}, "`batch_size` must be >= 1; got 0."),
    ("batch-negative", [0, 1], {"batch_size": -4}, "`batch_size` must be >= 1; got -4."),
    ("batch-float", [0, 1], {"batch_size": 2.0}, "`batch_size` must be a positive int; got 2.0."),
    ("batch-bool", [0, 1], {"batch_size": True}, "`batch_size` must be a positive int; got True."),
    ("n-batches-zero", [0, 1], {"n_batches": 0}, "`n_batches` must be >= 1; got 0."),
    ("n-batches-negative", [0, 1], {"n_batches": -1}, "`n_batches` must be >= 1; got -1."),
    (
        "kind-unknown",
        [0, 1],
        {"kind": "balanced"},
        '`kind` must be one of "fixed", "quota", "random", "pk"; got \'balanced\'.',
    ),
    ("labels-empty", [], {}, "`labels` must not be empty; got []."),
    (
        "class-without-samples",
        [0, 2],
        {"alpha": 0.5},
        "`alpha`=0.5 gives class 1 a target share of 0.166667, but it has no samples; give it "
        "share 0 with an explicit `target`, or relabel so that every class id has samples; "
        "got class counts [1 0 1].",
    ),
    (
        "labels-negative",
        [0, -1],
        {},
        "`labels` must be non-negative, but holds -1; got [0, -1].",
    ),
    (
        "labels-float",
        [0.0, 1.0],
        {},
        "`labels` must hold integers, but has dtype float64; got [0.0, 1.0].",
    ),
    (
        "labels-float-tensor",
        torch.tensor([0.0, 1.0]),
        {},
        "`labels` must hold integers, but has dtype float32; got tensor([0., 1.]).",
    ),
    (
        "labels-2d",
        [[0, 1], [1, 0]],
        {},
        "`labels` must be 1-D, but has shape (2, 2); got [[0, 1], [1, 0]].",
    ),
    (
        "target-sum",
        [0, 1],
        {"target": [0.5, 0.6]},
        "`target` must sum to 1 (within 1e-12), but sums to 1.1; use "
        "refsampler.targets.explicit(weights) to normalise weights; got [0.5, 0.6].",
    ),
    (
        "target-nan",
        [0, 1],
        {"target": [0.5, float("nan")]},
        "`target` must hold finite numbers; got [0.5, nan].",
    ),
    (
        "target-negative",
        [0, 1],
        {"target": [1.5, -0.5]},
        "`target` must be non-negative; got [1.5, -0.5].",
    ),
    (
        "target-length",
        [0, 1],
        {"target": [0.5, 0.25, 0.25]},
        "`target` must have one entry per class (2); got 3 entries.",
    ),
    (
        "alpha-and-target",
        [0, 1],
        {"alpha": 0.5, "target": [0.5, 0.5]},
        "give `alpha` or `target`, not both; got alpha=0.5 and target=[0.5, 0.5].",
    ),
    (
        "alpha-schedule-and-target",  # the schedule given, not a stand-in alpha
        [0, 1],
        {"alpha": linear(0.0, 1.0, 3), "target": [0.5, 0.5]},
        "give `alpha` or `target`, not both; got alpha=AlphaSchedule(knots=((0, 0.0), "
        "(3, 1.0))) and target=[0.5, 0.5].",
    ),
    (
        "fixed-infeasible",
        list(range(21)),
        {"batch_size": 8, "kind": "fixed", "alpha": 1.0},
        '`kind="fixed"` is infeasible: 21 classes have a positive target, but quota rounding '
        "of `batch_size` 8 leaves only 8 seats for the 21 classes whose floor is 0; use "
        f'kind="quota" or a larger `batch_size`; got target {_UNIFORM_21}.',
    ),
    (
        "rank-too-large",
        [0, 1],
        {"num_replicas": 2, "rank": 2},
        "`rank` must be < `num_replicas` (2); got 2.",
    ),
    ("rank-negative", [0, 1], {"num_replicas": 2, "rank": -1}, "`rank` must be >= 0; got -1."),
    (
        "m-without-pk",
        [0, 1],
        {"samples_per_class": 1},
        "`samples_per_class` is only for kind=\"pk\"; got samples_per_class=1 with kind='fixed'.",
    ),
    (
        "pk-without-m",
        [0, 1],
        {"kind": "pk"},
        'kind="pk" needs `samples_per_class` (m, the members of each class in a batch); got None.',
    ),
    ("replicas-zero", [0, 1], {"num_replicas": 0}, "`num_replicas` must be >= 1; got 0."),
    (
        "replicas-without-rank",
        [0, 1],
        {"num_replicas": 2},
        "`rank` is required with `num_replicas` 2 when torch.distributed has no process group "
        "(every process would otherwise be rank 0 and yield the same batches); pass rank=..., "
        "or build the sampler after init_process_group; got rank=None.",
    ),
    ("seed-negative", [0, 1], {"seed": -1}, "`seed` must be >= 0; got -1."),
    ("seed-float", [0, 1], {"seed": 1.5}, "`seed` must be a non-negative int; got 1.5."),
    (
        "num-classes-small",
        [0, 1],
        {"num_classes": 1},
        "`num_classes` must exceed the largest label (1); got 1.",
    ),
]


@pytest.mark.parametrize(
    ("labels", "kwargs", "message"),
    [case[1:] for case in BAD_INPUT],
    ids=[case[0] for case in BAD_INPUT],
)
def test_bad_input_raises_exact_message(labels: Any, kwargs: dict[str, Any], message: str) -> None:
    """Every bad input of the specification raises InvalidArgumentError (a ValueError and a
    RefSamplerError) with the exact message naming the argument and the value."""
    kwargs = dict(kwargs)
    batch_size = kwargs.pop("batch_size", 2)
    kwargs.setdefault("seed", 0)
    with raises_exactly(message) as info:
        BalancedBatchSampler(labels, batch_size, **kwargs)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, RefSamplerError)


BAD_CLASS_IDXS = [
    (
        "overlapping",
        [[0, 1], [1, 2]],
        {},
        "`class_idxs` must not repeat an index; got index 1 in classes [0, 1].",
    ),
    (
        "duplicate",
        [[0, 1, 1], [2]],
        {},
        "`class_idxs` must not repeat an index; got index 1 in class 0 twice.",
    ),
    (
        "negative",
        [[0, -1], [2]],
        {},
        "`class_idxs[0]` must be non-negative, but holds -1; got [0, -1].",
    ),
    (
        "empty-class",
        [[0, 1], []],
        {"alpha": 0.5},
        "`alpha`=0.5 gives class 1 a target share of 0.25, but it has no samples; give it "
        "share 0 with an explicit `target`, or relabel so that every class id has samples; "
        "got class counts [2 0].",
    ),
    ("no-classes", [], {}, "`class_idxs` must not be empty; got []."),
]


@pytest.mark.parametrize(
    ("class_idxs", "kwargs", "message"),
    [case[1:] for case in BAD_CLASS_IDXS],
    ids=[case[0] for case in BAD_CLASS_IDXS],
)
def test_bad_class_idxs_raise_exact_message(
    class_idxs: Any, kwargs: dict[str, Any], message: str
) -> None:
    """Overlapping, duplicate, negative and empty class_idxs raise with the exact message."""
    with raises_exactly(message):
        BalancedBatchSampler.from_class_indices(class_idxs, 2, seed=0, **kwargs)


def test_empty_class_allowed_with_zero_share() -> None:
    """An empty class list is fine when its share is zero (alpha=0)."""
    sampler = BalancedBatchSampler.from_class_indices([[0, 1], []], 2, alpha=0.0, seed=0)
    assert sampler.target.tolist() == [1.0, 0.0]
    assert sorted(next(iter(sampler))) == [0, 1]


# -- SamplerFactory (pytorch_balanced_sampler compatibility) ---------------------------------------


def test_factory_readme_example_runs_unchanged() -> None:
    """pytorch_balanced_sampler's README example, verbatim, then a DataLoader over 21 items."""
    batch_sampler = SamplerFactory().get(
        class_idxs=README_CLASS_IDXS,
        batch_size=32,
        n_batches=250,
        alpha=0.5,
        kind="fixed",
    )
    dataset = TensorDataset(torch.arange(21))
    loader = DataLoader(dataset, batch_sampler=batch_sampler)
    batches = [x.tolist() for (x,) in loader]
    assert len(batches) == 250
    expected = allocate(interpolate([5, 5, 2, 8], 0.5), 32)
    for batch in batches:
        assert len(batch) == 32
        per_class = [sum(i in idxs for i in batch) for idxs in README_CLASS_IDXS]
        assert per_class == expected.tolist()


def test_factory_fixed_and_random_shortcuts() -> None:
    """.fixed and .random equal .get with that kind (same seed, same batches)."""
    factory = SamplerFactory()
    args = (README_CLASS_IDXS, 8, 5, 0.5)
    fixed = factory.fixed(*args, seed=3)
    random = factory.random(*args, seed=3)
    assert fixed.kind == "fixed"
    assert random.kind == "random"
    assert list(fixed) == list(factory.get(*args, "fixed", seed=3))
    assert list(random) == list(factory.get(*args, "random", seed=3))


def test_factory_verbose_accepted() -> None:
    """verbose= is accepted for compatibility."""
    factory = SamplerFactory(verbose=1)
    assert factory.verbose == 1
    assert len(factory.get(README_CLASS_IDXS, 8, 5, 0.5, "quota", seed=0)) == 5


def test_factory_unknown_kind_raises() -> None:
    """An unknown kind is rejected with the exact message."""
    with raises_exactly(
        '`kind` must be one of "fixed", "quota", "random", "pk"; got \'weighted\'.'
    ):
        SamplerFactory().get(README_CLASS_IDXS, 8, 5, 0.5, "weighted")


def test_factory_does_not_shuffle_class_idxs() -> None:
    """The factory leaves the caller's lists as they were."""
    class_idxs = [list(x) for x in README_CLASS_IDXS]
    list(SamplerFactory().get(class_idxs, 32, 10, 0.5, "fixed", seed=0))
    assert class_idxs == README_CLASS_IDXS


# -- scale -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.int8, np.int64])
def test_random_kind_beyond_2_pow_24_labels(dtype: type) -> None:
    """2**24 + 3 labels (where WeightedRandomSampler fails): the random kind works, and the
    rare class at the very end (positions 2**24 + 1 and 2**24 + 2) is reachable."""
    n = 2**24 + 3
    labels = np.zeros(n, dtype=dtype)
    labels[-3:] = [1, 2, 2]
    sampler = BalancedBatchSampler(labels, 64, kind="random", alpha=1.0, n_batches=1, seed=0)
    (batch,) = list(sampler)
    assert len(batch) == 64
    assert batch == sampler.plan.batches(0, 0)[0].tolist()
    assert all(0 <= i < n for i in batch)
    by_class = {c: [i for i in batch if labels[i] == c] for c in range(3)}
    assert set(by_class[1]) <= {n - 3}
    assert set(by_class[2]) <= {n - 2, n - 1}
    assert by_class[2], "the last class was never drawn"


# -- a launcher without a process group ---------------------------------------------------------


def test_world_size_without_a_process_group_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    """WORLD_SIZE > 1 in the environment but no process group yet: the sampler cannot shard,
    so it says so (every process would yield whole, unsharded epochs, the same ones only where
    the seeds agree) and names the fixes."""
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.warns(RefSamplerWarning, match="WORLD_SIZE=4 is set but torch.distributed") as w:
        sampler = BalancedBatchSampler(LABELS, 4, seed=0)
    assert (sampler.num_replicas, sampler.rank) == (1, 0)
    message = str(w[0].message)
    assert "every process yields whole, unsharded epochs" in message
    assert "with seed=None each draws its own from torch" in message


@pytest.mark.parametrize("entry", ["constructor", "from_class_indices", "factory"])
def test_the_world_size_warning_points_at_the_callers_line(
    monkeypatch: pytest.MonkeyPatch, entry: str
) -> None:
    """Whichever entry point builds the sampler, the warning names the user's file and line."""
    monkeypatch.setenv("WORLD_SIZE", "4")
    idxs = [list(range(60)), list(range(60, 85)), list(range(85, 95)), list(range(95, 100))]
    build = {
        "constructor": lambda: BalancedBatchSampler(LABELS, 4, seed=0),
        "from_class_indices": lambda: BalancedBatchSampler.from_class_indices(idxs, 4, seed=0),
        "factory": lambda: SamplerFactory().get(idxs, 4, 5, 1.0, "fixed", seed=0),
    }[entry]
    with pytest.warns(RefSamplerWarning) as record:
        build()
    assert record[0].filename == __file__


@pytest.mark.parametrize(
    ("call", "where"),
    [
        (
            lambda: BalancedBatchSampler.from_class_indices([[0, 1], [2]], 2, shuffle=1),
            "from_class_indices",
        ),
        (
            lambda: SamplerFactory().get([[0, 1], [2]], 2, 5, 1.0, "fixed", shuffle=1),
            "SamplerFactory.get",
        ),
    ],
)
def test_an_unknown_keyword_names_the_public_entry_point(call: Any, where: str) -> None:
    """As Python does for any function: a TypeError naming the function the user called."""
    with pytest.raises(
        TypeError, match=rf"^{re.escape(where)}\(\) got an unexpected keyword argument 'shuffle'$"
    ):
        call()


@pytest.mark.parametrize("world", ["1", "", "x"])
def test_no_warning_for_one_process_or_explicit_ranks(
    monkeypatch: pytest.MonkeyPatch, world: str
) -> None:
    """One process, a malformed value, or ranks passed explicitly: nothing to warn about."""
    monkeypatch.setenv("WORLD_SIZE", world)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RefSamplerWarning)
        BalancedBatchSampler(LABELS, 4, seed=0)
    monkeypatch.setenv("WORLD_SIZE", "4")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RefSamplerWarning)
        sampler = BalancedBatchSampler(LABELS, 4, seed=0, num_replicas=4, rank=3)
    assert (sampler.num_replicas, sampler.rank) == (4, 3)


def test_passes_stop_at_the_last_epoch() -> None:
    """A pass after the last epoch set_epoch accepts is refused, not run on wrapped streams."""
    from refsampler._validate import MAX_EPOCH

    sampler = BalancedBatchSampler(LABELS, 10, seed=0, n_batches=2)
    sampler.set_epoch(MAX_EPOCH)
    assert len(list(sampler)) == 2
    with raises_exactly(
        f"`epoch (of the next pass)` must be <= {MAX_EPOCH}; got {MAX_EPOCH + 1}."
    ):
        iter(sampler)


def test_a_generator_of_labels_is_refused_by_the_sampler() -> None:
    """The constructor names the argument and never starts the generator; a set of class
    indices (no order) is refused the same way."""
    consumed = []

    def labels() -> Any:
        for label in (0, 1, 1, 0):
            consumed.append(label)
            yield label

    with pytest.raises(InvalidArgumentError, match=r"^`labels` must be a sequence or array"):
        BalancedBatchSampler(labels(), 2)
    assert consumed == []
    with pytest.raises(InvalidArgumentError, match=r"^`class_idxs\[0\]` must be an ordered"):
        BalancedBatchSampler.from_class_indices([{0, 1}, {2}], 2)
