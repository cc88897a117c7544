import json

import pytest

from gridledger.config import gather, load_config_file, parse_set_items
from gridledger.errors import ConfigError, InputFileError
from gridledger.scenarios.elecoin.run import ElecoinConfig


def test_set_items_parse_toml_values_and_dotted_keys():
    assert parse_set_items(["a=1", "b=0.5", "c=[1, 2]", "d=true", "t.x=word", 't.y="quoted"']) == {
        "a": 1, "b": 0.5, "c": [1, 2], "d": True, "t": {"x": "word", "y": "quoted"}}


def test_set_item_without_equals_is_refused():
    with pytest.raises(ConfigError, match="key=value"):
        parse_set_items(["theta"])


def test_toml_and_json_files_give_the_same_config(tmp_path):
    (tmp_path / "c.toml").write_text('theta = 120\nw = [1, 2, 3]\nn_prosumers = 3\n[dma_ubrl]\nmax_stages = 4\n')
    (tmp_path / "c.json").write_text(json.dumps({"theta": 120, "w": [1, 2, 3], "n_prosumers": 3,
                                                 "dma_ubrl": {"max_stages": 4}}))
    a = ElecoinConfig.from_mapping(load_config_file(tmp_path / "c.toml"))
    b = ElecoinConfig.from_mapping(load_config_file(tmp_path / "c.json"))
    assert a == b
    assert a.market.theta == 120.0 and a.market.w == (1.0, 2.0, 3.0) and a.dma_ubrl.max_stages == 4


def test_set_overrides_file(tmp_path):
    (tmp_path / "c.toml").write_text("theta = 120\n")
    assert gather(tmp_path / "c.toml", ["theta=130"]) == {"theta": 130}


def test_malformed_toml_names_file_line_and_column(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text("theta = 1\nk = = 2\n")
    with pytest.raises(InputFileError) as info:
        load_config_file(p)
    assert info.value.line == 2 and "bad.toml" in str(info.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(InputFileError, match="file not found"):
        load_config_file(tmp_path / "nope.json")


def test_top_level_must_be_a_table(tmp_path):
    p = tmp_path / "list.json"
    p.write_text("[1, 2]")
    with pytest.raises(InputFileError, match="table"):
        load_config_file(p)


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"thetaa": 1}, "thetaa"),
        ({"theta": "big"}, "theta"),
        ({"n_prosumers": 2.5}, "n_prosumers"),
        ({"w": 3}, "w"),
        ({"w": [1, "x"], "n_prosumers": 2}, "w[1]"),
        ({"dma_ubrl": {"stagez": 1}}, "dma_ubrl.stagez"),
        ({"dma_ubrl": {"max_stages": 0}}, "dma_ubrl.max_stages"),
        ({"dma_ubrl": {"server": {"sigma": 2}}}, "dma_ubrl.server.sigma"),
        ({"ga": 5}, "ga"),
    ],
)
def test_config_errors_name_the_field(mapping, field):
    with pytest.raises(ConfigError) as info:
        ElecoinConfig.from_mapping(mapping)
    assert info.value.field == field
