import pytest
from pydantic import ValidationError

from core.specs import Blend, InterpolateSpec, RecombineSpec, parse_job_spec, sampler_group

A, B = "a" * 64, "b" * 64


def test_specs_round_trip_through_the_record_json_as_their_own_type():
    rec = RecombineSpec(model="m",
                        base=A, attributes={"pose": Blend(donor=B, weight=0.5), "background": Blend(donor=None, weight=1)},
                        x_T="random", seed=7, steps=12, sampler="ddim")
    inter = InterpolateSpec(model="m", base=A, donor=B, attributes=("pose",), frames=5, x_T="inferred", seed=0, steps=12,
                            sampler="dpmpp_2m")
    assert parse_job_spec(rec.model_dump_json()) == rec
    assert parse_job_spec(inter.model_dump_json()) == inter
    assert rec.image_ids() == [A, B] and inter.image_ids() == [A, B]


def test_the_group_key_is_the_model_lane_sampler_and_steps():
    spec = RecombineSpec(model="m", base=A, attributes={}, x_T="inferred", seed=0, steps=12, sampler="ddim")
    assert sampler_group(spec) == "decode:m:interactive:12:ddim"
    for change in ({"steps": 13}, {"sampler": "dpmpp_2m"}, {"lane": "bulk"}, {"model": "other"}):
        assert sampler_group(spec.model_copy(update=change)) != sampler_group(spec)


def test_a_record_that_is_not_a_spec_is_refused():
    for raw in ('{"kind": "paint", "base": "x"}', '{"kind": "recombine"}', "not json",
                RecombineSpec(model="m", base=A, attributes={}, x_T="inferred", seed=0, steps=2, sampler="ddim")
                .model_dump_json().replace('"seed":0', '"seed":0,"extra":1')):
        with pytest.raises(ValidationError):
            parse_job_spec(raw)
