import json
from collections import defaultdict
from pathlib import Path

from generation.data import CHORALE_SPLIT
from generation.midi import midi_read
from generation.split import melody_groups, melody_intervals, split_assign

from .conftest import SAME_MELODY


def _melodies(folder: Path) -> dict[str, object]:
    return {path.stem: melody_intervals(midi_read(path)) for path in sorted(folder.glob("*.mid"))}


def test_it_groups_harmonisations_of_one_melody(chorale_folder: Path) -> None:
    groups = melody_groups(_melodies(chorale_folder))  # type: ignore[arg-type]
    assert {groups[name] for name in SAME_MELODY} == {"bwv244.15"}
    assert groups["bwv392"] == groups["bwv395"]  # one tune under two titles
    assert groups["bwv269"] != groups["bwv244.15"]


def test_it_groups_a_transposed_copy_with_its_original(chorale_folder: Path) -> None:
    melodies = _melodies(chorale_folder)
    melodies["copy"] = melody_intervals(midi_read(chorale_folder / "bwv269.mid").shift_pitch(5))
    groups = melody_groups(melodies)  # type: ignore[arg-type]
    assert groups["copy"] == groups["bwv269"]


def test_the_split_keeps_each_melody_group_on_one_side(chorale_folder: Path) -> None:
    groups = melody_groups(_melodies(chorale_folder))  # type: ignore[arg-type]
    for seed in range(20):
        sides = split_assign(groups, fractions=(0.6, 0.2, 0.2), seed=seed)
        assert len({sides[name] for name in SAME_MELODY}) == 1
        assert set(sides.values()) == {"train", "validation", "test"}


def test_the_split_is_the_same_every_time() -> None:
    groups = {f"piece{i}": f"piece{i - i % 3}" for i in range(60)}
    assert split_assign(groups, seed=4) == split_assign(dict(reversed(groups.items())), seed=4)
    assert split_assign(groups, seed=4) != split_assign(groups, seed=5)


def test_the_committed_chorale_split_never_puts_a_group_on_two_sides() -> None:
    pieces = json.loads(CHORALE_SPLIT.read_text())["pieces"]
    sides_of_group = defaultdict(set)
    for entry in pieces.values():
        sides_of_group[entry["group"]].add(entry["side"])
    assert all(len(sides) == 1 for sides in sides_of_group.values())
    assert pieces["bwv244.15"]["group"] == pieces["bwv271"]["group"]
    counts = {side: sum(e["side"] == side for e in pieces.values()) for side in ("train", "validation", "test")}
    assert counts["test"] >= 30 and counts["validation"] >= 30 and counts["train"] > 250
