"""The lower rooms keep type hints on their public API (parameters and returns).

Public means a name without a leading underscore, plus ``__init__`` of public classes;
``self`` / ``cls`` and ``*args`` / ``**kwargs`` may go bare. Properties count as methods.
"""

import importlib
import inspect
import pkgutil

import pytest

ROOMS = ('core', 'robot', 'control', 'bag')


def _modules():
    for room in ROOMS:
        package = importlib.import_module(f'contrastive_vla.{room}')
        yield package
        for info in pkgutil.iter_modules(package.__path__, f'{package.__name__}.'):
            yield importlib.import_module(info.name)


def _own(obj, module):
    return getattr(obj, '__module__', None) == module.__name__


def _callables(module):
    """(qualified name, function) of every public function and method defined in ``module``."""
    for name, obj in vars(module).items():
        if name.startswith('_') or not _own(obj, module):
            continue
        obj = inspect.unwrap(obj)  # functools.lru_cache and friends
        if inspect.isfunction(obj):
            yield f'{module.__name__}.{name}', obj
        elif inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith('_') and attr != '__init__':
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                elif isinstance(member, property):
                    member = member.fget
                member = inspect.unwrap(member)
                # Protocol and dataclass put generated functions here; judge only our own.
                if inspect.isfunction(member) and _own(member, module):
                    yield f'{module.__name__}.{name}.{attr}', member


def _gaps(qualname, fn):
    signature = inspect.signature(fn)
    params = list(signature.parameters.values())
    if params and params[0].name in ('self', 'cls') and '.' in fn.__qualname__:
        params = params[1:]
    bare = [p.name for p in params
            if p.annotation is inspect.Parameter.empty
            and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if signature.return_annotation is inspect.Signature.empty:
        bare.append('return')
    return [f'{qualname}: {", ".join(bare)}'] if bare else []


@pytest.mark.parametrize('room', ROOMS)
def test_public_functions_are_annotated(room):
    gaps = []
    for module in _modules():
        if module.__name__.split('.')[1] != room:
            continue
        for qualname, fn in _callables(module):
            gaps.extend(_gaps(qualname, fn))
    assert not gaps, 'add type hints to:\n' + '\n'.join(sorted(gaps))


def test_the_walk_finds_the_api():
    """Guards the test itself: it must see functions and methods of every room."""
    names = {q for module in _modules() for q, _ in _callables(module)}
    for expected in ('contrastive_vla.core.delta.as_delta',
                     'contrastive_vla.core.vocabulary.PrimitiveVocabulary.discretize',
                     'contrastive_vla.core.vocabulary.PrimitiveVocabulary.__init__',
                     'contrastive_vla.bag.reader.open_bag'):
        assert expected in names
    for room in ROOMS:
        assert any(q.startswith(f'contrastive_vla.{room}.') for q in names), room
