from __future__ import annotations

import magine_async


def test_all_is_sorted_and_complete() -> None:
    names = magine_async.__all__
    # constants, then classes, then functions and dunders; each group alphabetical
    assert names == sorted(names, key=lambda n: (not n.isupper(), not n[:1].isupper(), n))
    for name in names:
        assert hasattr(magine_async, name), name


def test_errors_share_one_base() -> None:
    for name in magine_async.__all__:
        obj = getattr(magine_async, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, magine_async.MagineError), name
