"""A shared local Spark session for the Spark tests (skipped only without Java or pyspark)."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

# PySpark warns about every pandas release it has not certified; that is not our warning.
SPARK_WARNINGS = "ignore:PySpark does not yet fully support pandas:FutureWarning"


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local Spark session: two cores, one shuffle partition, no UI, this interpreter."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        pytest.skip("pyspark is not installed (pip install 'airsoc[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("no Java runtime (install a JDK 17, e.g. apt-get install openjdk-17-jre)")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        session = (
            SparkSession.builder.master("local[2]")
            .appName("airsoc-tests")
            .config("spark.sql.shuffle.partitions", "1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
