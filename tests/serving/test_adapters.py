"""Model adapters: scikit-learn in process, HTTP upstreams, rules, and refusing tampered files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from airsoc import lineage as lin
from airsoc.errors import GatewayError, HashMismatchError, InputError
from airsoc.serving.adapters import HttpAdapter, SklearnAdapter, load_adapter, load_callable
from airsoc.serving.testing import serve_in_thread

from .conftest import ROW, Registry


def test_sklearn_pipeline_trained_on_a_frame_knows_its_features() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"amount": rng.normal(size=200), "age": rng.normal(size=200)})
    labels = rng.integers(0, 3, 200)
    model = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5, random_state=0))
    model.fit(frame, labels)
    adapter = SklearnAdapter(model)
    assert adapter.features == {"amount": "number", "age": "number"}
    rows = [{"amount": float(a), "age": float(b)} for a, b in frame.head(3).to_numpy()]
    outputs = adapter.predict(rows)
    assert [o.prediction for o in outputs] == model.predict(frame.head(3)).tolist()
    assert [o.score for o in outputs] == model.predict_proba(frame.head(3)).max(axis=1).tolist()


def test_sklearn_model_without_feature_names_needs_a_schema() -> None:
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(np.array([[0.0], [1.0]]), [0.0, 2.0])
    with pytest.raises(InputError, match="input schema"):
        SklearnAdapter(model)
    outputs = SklearnAdapter(model, features={"x": "number"}).predict([{"x": 0.5}])
    assert outputs[0].prediction == pytest.approx(1.0)
    assert outputs[0].score is None


def test_http_adapter_speaks_to_a_real_upstream() -> None:
    async def predict(request: Request) -> Response:
        rows = (await request.json())["rows"]
        if rows[0].get("x") == -1:
            return JSONResponse({"detail": "boom"}, status_code=500)
        return JSONResponse(
            {"predictions": [r["x"] * 2 for r in rows], "scores": [0.5] * len(rows)}
        )

    upstream = Starlette(routes=[Route("/predict", predict, methods=["POST"])])
    with serve_in_thread(upstream) as url:
        adapter = HttpAdapter(f"{url}/predict", features={"x": "number"})
        assert [o.prediction for o in adapter.predict([{"x": 1}, {"x": 2}])] == [2, 4]
        outputs = asyncio.run(adapter.apredict([{"x": 3}]))
        assert (outputs[0].prediction, outputs[0].score) == (6, 0.5)
        with pytest.raises(GatewayError, match="answered HTTP 500"):
            adapter.predict([{"x": -1}])
    with pytest.raises(GatewayError, match="did not answer"):
        adapter.predict([{"x": 1}])


def test_load_adapter_refuses_a_tampered_artifact(registry: Registry) -> None:
    with registry.store.read() as s:
        v1 = lin.get_model_version(s, system="fraud", version="v1")
    assert load_adapter(v1).predict([ROW])[0].prediction == 1
    registry.v1.write_bytes(registry.v1.read_bytes() + b"\0")
    with pytest.raises(HashMismatchError, match="supply_chain"):
        load_adapter(v1)


def test_load_callable_names_what_is_wrong(tmp_path: Path) -> None:
    (tmp_path / "rules.py").write_text("LIMIT = 3\n")
    with pytest.raises(InputError, match=r"must look like file\.py:function"):
        load_callable("rules.py")
    with pytest.raises(InputError, match="does not exist"):
        load_callable("missing.py:score", base_dir=tmp_path)
    with pytest.raises(InputError, match="LIMIT is not a function"):
        load_callable("rules.py:LIMIT", base_dir=tmp_path)
    with pytest.raises(InputError, match="cannot import"):
        load_callable("no_such_module_here:score")
