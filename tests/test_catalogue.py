"""The action catalogue: what every action takes and returns, published and enforced."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from zigral import catalogue
from zigral.actions import Action, Params, Result
from zigral.config import load_settings
from zigral.errors import Rejected, TaskError
from zigral.generic import GENERIC

DOC = Path(__file__).resolve().parents[1] / "docs" / "PROTOCOL.md"


@pytest.fixture(scope="module")
def table() -> dict[str, Action[Any]]:
    return catalogue.actions(load_settings(None))


def test_the_catalogue_names_generic_actions_bare_and_agent_actions_with_their_agent(
    table: dict[str, Action[Any]],
) -> None:
    assert {"navigate", "echo", "lincoln.send_connection", "shaun.write_range"} <= set(table)
    assert not [n for n in table if n.count(".") > 1]


def test_every_action_publishes_a_params_and_a_result_schema(table: dict[str, Action[Any]]) -> None:
    for name, action in table.items():
        entry = catalogue.schema(name, action)
        assert entry["params"]["type"] == "object", name
        assert entry["result"]["type"] == "object", name


def test_a_generic_action_has_a_description_and_a_closed_result(table: dict[str, Action[Any]]) -> None:
    for name in GENERIC:
        entry = catalogue.schema(name, table[name])
        assert entry["description"], name
        if name != "echo":
            assert entry["result"].get("additionalProperties") is False, name


def test_protocol_md_carries_the_catalogue_as_generated(tmp_path: Path) -> None:
    copy = tmp_path / "PROTOCOL.md"
    copy.write_text(DOC.read_text())
    changed = catalogue.rewrite(copy, load_settings(None))
    assert not changed, "docs/PROTOCOL.md's action reference is stale: run `make docs`"


def test_an_unknown_action_name_is_refused_with_a_pointer_to_the_list() -> None:
    with pytest.raises(Rejected, match="zigral schema --list"):
        catalogue.lookup(load_settings(None), "lincoln.fly")


@pytest.mark.parametrize(
    ("params", "complaint"),
    [
        ({"seconds": "5"}, "valid number"),
        ({"seconds": math.nan}, "finite number"),
        ({"seconds": math.inf}, "finite number"),
        ({"seconds": True}, "valid number"),
        ({"seconds": 1, "extra": 1}, "Extra inputs"),
    ],
)
def test_params_are_strict(params: dict[str, Any], complaint: str) -> None:
    with pytest.raises(Rejected, match=complaint):
        GENERIC["sleep"].parse(params)


def test_wait_for_takes_seconds_and_refuses_a_timeout_meant_in_milliseconds() -> None:
    assert GENERIC["wait_for"].parse({"selector": "#a", "timeout_s": 2.5}).timeout_s == 2.5
    assert GENERIC["wait_for"].parse({"selector": "#a", "timeout": 3}).timeout_s == 3
    with pytest.raises(Rejected, match="less than or equal to 600"):
        GENERIC["wait_for"].parse({"selector": "#a", "timeout": 30000})


class _Echo(Params):
    n: int


class _Out(Result):
    n: int


def test_a_result_is_validated_by_its_model_before_it_is_stored() -> None:
    good = Action("ok", _Echo, lambda ctx, p: {"n": p.n}, result=_Out)
    assert good.run(None, _Echo(n=3)) == {"n": 3}
    extra = Action("extra", _Echo, lambda ctx, p: {"n": p.n, "secret": "x"}, result=_Out)
    with pytest.raises(TaskError, match="produced an invalid result"):
        extra.run(None, _Echo(n=3))
    mistyped = Action("mistyped", _Echo, lambda ctx, p: {"n": "three"}, result=_Out)
    with pytest.raises(TaskError, match="produced an invalid result"):
        mistyped.run(None, _Echo(n=3))
