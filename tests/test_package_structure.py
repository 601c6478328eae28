"""The public API follows one convention (STYLE.md rule 2), checked over every exported function.

AnnData comes first, at most three parameters are positional and the rest keyword-only, and
``copy`` is keyword-only and off by default. Query strategies are the documented exception: the
registry contract is ``(probs, embeddings, labelled_mask, n, *, rng)``.
"""

import importlib
import inspect

import pytest

SUBPACKAGES = [
    "activespot.io",
    "activespot.features",
    "activespot.model",
    "activespot.select",
    "activespot.loop",
    "activespot.project",
    "activespot.transfer",
    "activespot.review",
    "activespot.cells",
    "activespot.study",
]
STRATEGY_MODULE = "activespot.select._strategies"
POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _public_callables():
    for name in SUBPACKAGES:
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if inspect.isfunction(obj):
                yield f"{name}.{attr}", obj
            elif inspect.isclass(obj):
                for method_name, method in vars(obj).items():
                    if not method_name.startswith("_") and inspect.isfunction(method):
                        yield f"{name}.{attr}.{method_name}", method


CALLABLES = dict(_public_callables())


def test_every_subpackage_exports_something():
    for name in SUBPACKAGES:
        assert importlib.import_module(name).__all__, name


@pytest.mark.parametrize("qualname", sorted(CALLABLES))
def test_signature_convention(qualname):
    function = CALLABLES[qualname]
    params = [p for p in inspect.signature(function).parameters.values() if p.name not in {"self", "cls"}]
    names = [p.name for p in params]
    if "adata" in names:
        assert names[0] == "adata", f"{qualname}: adata must come first"
    positional = [p for p in params if p.kind in POSITIONAL]
    limit = 4 if function.__module__ == STRATEGY_MODULE else 3
    assert len(positional) <= limit, f"{qualname}: {len(positional)} positional parameters, at most {limit}"
    if "copy" in names:
        copy = params[names.index("copy")]
        assert copy.kind is inspect.Parameter.KEYWORD_ONLY, qualname
        assert copy.default is False, qualname


@pytest.mark.parametrize("qualname", sorted(CALLABLES))
def test_public_callables_are_documented(qualname):
    assert inspect.getdoc(CALLABLES[qualname]), f"{qualname} has no docstring"
