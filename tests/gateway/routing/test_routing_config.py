"""Routing settings: defaults, operator overrides from the environment, one-line errors naming the key."""

from __future__ import annotations

import pytest

from kvmesh.gateway.routing import RoutingConfig


def test_environment_overrides_the_defaults() -> None:
    env = {"KVMESH_GATEWAY_ROUTING_LOAD_MARGIN": "5", "KVMESH_GATEWAY_ROUTING_MISS_DECAY": "0.25"}
    config = RoutingConfig.from_env(env)
    assert (config.load_margin, config.miss_decay) == (5, 0.25)
    assert config.block_chars == RoutingConfig().block_chars


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"KVMESH_GATEWAY_ROUTING_LOAD_MARGIN": "many"},
            "KVMESH_GATEWAY_ROUTING_LOAD_MARGIN='many' is not a valid int",
        ),
        (
            {"KVMESH_GATEWAY_ROUTING_INDEX_BLOCKS": "0"},
            "KVMESH_GATEWAY_ROUTING_INDEX_BLOCKS='0' is out of range",
        ),
    ],
)
def test_bad_values_name_the_variable_and_the_value(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        RoutingConfig.from_env(env)
    assert str(caught.value) == message
